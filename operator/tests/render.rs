//! `zkrs-operator render` as a user (and the pod-emulation test) runs it.

use std::process::Command;

fn render(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zkrs-operator"))
        .arg("render")
        .args(args)
        .output()
        .expect("run zkrs-operator")
}

fn documents(stdout: &[u8]) -> Vec<serde_yaml::Value> {
    let text = String::from_utf8(stdout.to_vec()).expect("UTF-8");
    text.split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_yaml::from_str(d).expect("each document is YAML"))
        .collect()
}

#[test]
fn render_prints_every_object_for_the_requested_size() {
    let out = render(&["--name", "zk", "--namespace", "ns", "--replicas", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&out.stdout);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "Secret",
            "ConfigMap",
            "Service",
            "Service",
            "Service",
            "ConfigMap",
            "StatefulSet",
            "PodDisruptionBudget"
        ]
    );
    assert_eq!(docs[0]["metadata"]["name"], "zk-super");
    let zoo_cfg = docs[1]["data"]["zoo.cfg"].as_str().unwrap();
    assert!(zoo_cfg.contains("reconfigEnabled=true\n"));
    assert_eq!(docs[5]["metadata"]["name"], "zk-members");
    assert_eq!(docs[5]["data"]["voters"], "1,2,3,4,5\n");
    let servers = docs[5]["data"]["servers"].as_str().unwrap();
    assert!(servers
        .contains("server.5=zk-4.zk-hs.ns.svc.cluster.local:2888:3888:participant;0.0.0.0:2181\n"));
    assert_eq!(docs[6]["spec"]["replicas"], 5);
    assert!(
        docs.iter()
            .all(|d| d["metadata"]["ownerReferences"].is_null()),
        "offline objects have no owner"
    );
}

#[test]
fn render_reads_a_cluster_file_and_flags_override_it() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../manifests/examples/zookeepercluster.yaml"
    );
    let out = render(&["-f", example, "--namespace", "team-a"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&out.stdout);
    assert!(docs.iter().all(|d| d["metadata"]["namespace"] == "team-a"));
    let sts = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][0]["image"],
        "zkrs:0.1.0"
    );
}

#[test]
fn render_refuses_an_invalid_spec_and_says_why() {
    let out = render(&["--name", "zk", "--namespace", "ns", "--replicas", "4"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allowEvenReplicas"), "{err}");
    assert!(out.stdout.is_empty(), "nothing half-rendered");
    let out = render(&["--namespace", "ns"]);
    assert!(!out.status.success());
}
