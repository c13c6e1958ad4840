//! `zkrs-operator`: `crd` prints the CustomResourceDefinition, `render` prints the objects
//! of one cluster, `run` (the default) reconciles clusters in the cluster it runs in.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};

use zkrs_operator::addresses::PodDns;
use zkrs_operator::builders::{
    build_all, members_configmap, super_secret, to_yaml_stream, with_members, POD_NAME_ENV,
    SUPER_DIGEST_ENV,
};
use zkrs_operator::crd::{definition_yaml, ZooKeeperCluster, ZooKeeperClusterSpec};
use zkrs_operator::member_start::{self, Membership, Paths};
use zkrs_operator::validate::validate;

const USAGE: &str = "usage:
  zkrs-operator crd
      print the ZooKeeperCluster CustomResourceDefinition (YAML)
  zkrs-operator render --name NAME --namespace NS [--replicas R] [-f cluster.yaml]
        [--super-password PW]
      print every object the operator would apply for that cluster (a YAML stream),
      the super user's Secret first (with PW, else a random password, as the operator
      makes it); -f reads a ZooKeeperCluster (its spec is used; --name/--namespace/
      --replicas win)
  zkrs-operator prepare-member --conf DIR --data DIR
      (a member pod's init container) write DIR/zoo.cfg for the member of pod $POD_NAME
      from the ConfigMaps in --conf: its own committed membership when it has one, else
      the committed voters (plus itself as a joiner); $ZKRS_SUPER_DIGEST is the super digest
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
        Some("prepare-member") => prepare_member(&args[1..]),
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
    let mut super_password = None;
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
            "--super-password" => super_password = Some(value()?.clone()),
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
    // A new cluster: every member is a voter from the start.
    let voters: Vec<u64> = (1..=u64::from(cluster.replicas)).collect();
    let objects = with_members(
        build_all(&cluster),
        members_configmap(&cluster, &PodDns, &voters),
    );
    // The members' pods read the super digest from this Secret, which the operator makes
    // once with a random password.
    let password = match super_password {
        Some(p) => p,
        None => zkrs_operator::reconciler::secret::random_password()
            .context("reading random bytes for the super password")?,
    };
    let secret = super_secret(&cluster, &password);
    Ok(format!(
        "---\n{}{}",
        serde_yaml::to_string(&secret)?,
        to_yaml_stream(&objects)?
    ))
}

fn prepare_member(args: &[String]) -> anyhow::Result<()> {
    let mut conf = None;
    let mut data = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .map(PathBuf::from)
                .with_context(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--conf" => conf = Some(value()?),
            "--data" => data = Some(value()?),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let paths = Paths {
        conf: conf.context("prepare-member needs --conf")?,
        data: data.context("prepare-member needs --data")?,
    };
    let pod = std::env::var(POD_NAME_ENV)
        .or_else(|_| std::env::var("HOSTNAME"))
        .with_context(|| format!("prepare-member needs ${POD_NAME_ENV} (the pod's name)"))?;
    let digest = std::env::var(SUPER_DIGEST_ENV).ok();
    let (zoo_cfg, membership) = member_start::prepare(&paths, &pod, digest.as_deref())
        .with_context(|| format!("preparing the member of pod {pod}"))?;
    let how = match membership {
        Membership::Committed(file) => {
            format!("its own committed membership {}", file.display())
        }
        Membership::FromConfigMap { voters, joiner } => format!(
            "the committed voters {voters:?}{}",
            if joiner {
                ", joining as a new member"
            } else {
                ""
            }
        ),
    };
    eprintln!("{pod}: {} written from {how}", zoo_cfg.display());
    Ok(())
}
