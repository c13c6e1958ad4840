//! `zkrs-operator`: `crd` prints the CustomResourceDefinition, `render` prints the objects
//! of one cluster, `run` (the default) reconciles clusters in the cluster it runs in.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};

use zkrs_operator::builders::{build_all, to_yaml_stream};
use zkrs_operator::crd::{definition_yaml, ZooKeeperCluster, ZooKeeperClusterSpec};
use zkrs_operator::validate::validate;

const USAGE: &str = "usage:
  zkrs-operator crd
      print the ZooKeeperCluster CustomResourceDefinition (YAML)
  zkrs-operator render --name NAME --namespace NS [--replicas R] [-f cluster.yaml]
      print every object the operator would apply for that cluster (a YAML stream);
      -f reads a ZooKeeperCluster (its spec is used; --name/--namespace/--replicas win)
  zkrs-operator [run] [--namespace NS]... [--http-port PORT]
      reconcile ZooKeeperCluster resources (all namespaces unless some are named;
      also ZKRS_WATCH_NAMESPACES=a,b); /metrics and /healthz on PORT (default 8080)
  zkrs-operator registry-gateway --connect HOST:PORT[,HOST:PORT...] [--listen ADDR]
        [--base PATH] [--session-timeout SECONDS] [--namespace NS --cluster NAME
        [--mirror-endpointslices] [--owner-uid UID]]
      serve the service registry under PATH (default /registry) as HTTP/JSON on ADDR
      (default 0.0.0.0:8081); with a namespace and cluster, GET /endpointslices shows the
      Services and EndpointSlices that mirror it, which --mirror-endpointslices applies";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crd") if args.len() == 1 => print(&definition_yaml()?),
        Some("render") => print(&render(&args[1..])?),
        Some("-h" | "--help" | "help") => print(&format!("{USAGE}\n")),
        Some("registry-gateway") => zkrs_operator::registry::cli::main(&args[1..]),
        Some("run") => zkrs_operator::reconciler::run::main(&args[1..]),
        None => zkrs_operator::reconciler::run::main(&[]),
        Some(a) if a.starts_with("--") => zkrs_operator::reconciler::run::main(&args),
        Some(other) => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

fn print(text: &str) -> anyhow::Result<()> {
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing to stdout")
}

fn render(args: &[String]) -> anyhow::Result<String> {
    let mut name = None;
    let mut namespace = None;
    let mut replicas = None;
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--name" => name = Some(value()?.clone()),
            "--namespace" | "-n" => namespace = Some(value()?.clone()),
            "--replicas" => {
                let v = value()?;
                replicas = Some(
                    v.parse::<i32>()
                        .with_context(|| format!("--replicas {v}"))?,
                );
            }
            "-f" | "--file" => file = Some(PathBuf::from(value()?)),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let mut zkc = match &file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_yaml::from_str::<ZooKeeperCluster>(&text)
                .with_context(|| format!("{}: not a ZooKeeperCluster", path.display()))?
        }
        None => ZooKeeperCluster::new("", ZooKeeperClusterSpec::default()),
    };
    if let Some(n) = name {
        zkc.metadata.name = Some(n);
    }
    if let Some(ns) = namespace {
        zkc.metadata.namespace = Some(ns);
    }
    if zkc.metadata.name.as_deref().unwrap_or_default().is_empty() {
        bail!("render needs --name (or a named cluster in -f)\n{USAGE}");
    }
    if zkc.metadata.namespace.is_none() {
        bail!("render needs --namespace (or a namespace in -f)\n{USAGE}");
    }
    if replicas.is_some() {
        zkc.spec.replicas = replicas;
    }
    // Offline there is no uid, so no owner references: the objects are as a user would
    // apply them by hand.
    zkc.metadata.uid = None;
    let cluster = validate(&zkc).context("the cluster's spec is invalid")?;
    Ok(to_yaml_stream(&build_all(&cluster))?)
}
