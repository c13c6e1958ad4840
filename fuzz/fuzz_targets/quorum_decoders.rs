#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    zkrs_fuzz::quorum_decoders(data);
});
