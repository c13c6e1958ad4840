//! The `run` command: placeholder until the controller lands.

pub fn main(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("the controller is not built yet")
}
