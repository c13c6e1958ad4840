//! The kube-rs glue: watches clusters, applies what the builders produce, writes status.

pub mod run;
