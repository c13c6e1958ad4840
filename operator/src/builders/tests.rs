//! The built objects for small fixtures.

use k8s_openapi::api::core::v1::PodSpec;

use super::*;
use crate::testing::cluster_from_yaml;
use crate::validate::validate;

fn built(yaml: &str) -> Vec<Owned> {
    build_all(&validate(&cluster_from_yaml(yaml)).expect("fixture is valid"))
}

const THREE: &str = "metadata: {name: zk, namespace: ns, uid: u-1}\nspec: {}\n";

fn find<'a>(objects: &'a [Owned], kind: &str, name: &str) -> &'a Owned {
    objects
        .iter()
        .find(|o| o.kind() == kind && o.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn sts(objects: &[Owned]) -> &StatefulSet {
    match find(objects, "StatefulSet", "zk") {
        Owned::StatefulSet(s) => s,
        _ => unreachable!(),
    }
}

fn pod_spec(s: &StatefulSet) -> &PodSpec {
    s.spec.template.spec.as_ref().expect("pod spec")
}

#[test]
fn the_objects_come_in_apply_order_configmap_first() {
    let kinds: Vec<(&str, String)> = built(THREE)
        .iter()
        .map(|o| (o.kind(), o.name().to_string()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ConfigMap", "zk-config".to_string()),
            ("Service", "zk-hs".to_string()),
            ("Service", "zk".to_string()),
            ("Service", "zk-admin".to_string()),
            ("StatefulSet", "zk".to_string()),
            ("PodDisruptionBudget", "zk".to_string()),
        ]
    );
}

#[test]
fn every_object_is_owned_by_the_cluster_and_labelled_with_it() {
    for o in built(THREE) {
        let m = o.metadata();
        let owner = &m.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("ZooKeeperCluster", "zk", "u-1")
        );
        assert_eq!(owner.controller, Some(true));
        assert_eq!(m.namespace.as_deref(), Some("ns"));
        let labels = m.labels.as_ref().expect("labels");
        assert_eq!(labels.get(INSTANCE_LABEL).map(String::as_str), Some("zk"));
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some(MANAGER)
        );
    }
}

#[test]
fn without_a_uid_there_is_no_owner_reference() {
    for o in built("metadata: {name: zk, namespace: ns}\nspec: {}\n") {
        assert_eq!(o.metadata().owner_references, None);
    }
}

#[test]
fn the_settings_have_no_members_and_the_members_configmap_has_every_line() {
    let objects = built(THREE);
    let Owned::ConfigMap(cm) = find(&objects, "ConfigMap", "zk-config") else {
        unreachable!()
    };
    let text = &cm.data.as_ref().unwrap()[ZOO_CFG_KEY];
    assert!(!text.contains("server."), "{text}");
    assert!(text.contains("reconfigEnabled=true\n"));
    let c = crate::validate::validate(&cluster_from_yaml(THREE)).unwrap();
    let members = super::members_configmap(&c, &crate::addresses::PodDns, &[1, 2, 3]);
    assert_eq!(members.metadata.name.as_deref(), Some("zk-members"));
    let data = members.data.unwrap();
    assert_eq!(data[super::VOTERS_KEY], "1,2,3\n");
    let servers = &data[super::SERVERS_KEY];
    assert!(servers.starts_with(
        "server.1=zk-0.zk-hs.ns.svc.cluster.local:2888:3888:participant;0.0.0.0:2181\n"
    ));
    assert!(servers.contains(
        "server.15=zk-14.zk-hs.ns.svc.cluster.local:2888:3888:participant;0.0.0.0:2181\n"
    ));
}

#[test]
fn the_config_hash_ignores_the_size() {
    let three = crate::validate::validate(&cluster_from_yaml(THREE)).unwrap();
    let mut five = three.clone();
    five.replicas = 5;
    assert_eq!(super::config_hash(&three), super::config_hash(&five));
}

#[test]
fn the_headless_service_publishes_not_ready_members_on_the_three_ports() {
    let objects = built(THREE);
    let Owned::Service(svc) = find(&objects, "Service", "zk-hs") else {
        unreachable!()
    };
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
    assert_eq!(spec.publish_not_ready_addresses, Some(true));
    let ports: Vec<i32> = spec.ports.iter().flatten().map(|p| p.port).collect();
    assert_eq!(ports, [2181, 2888, 3888]);
}

#[test]
fn the_admin_service_has_the_metrics_port_only_when_metrics_are_on() {
    let ports = |yaml: &str| -> Vec<i32> {
        let objects = built(yaml);
        let Owned::Service(svc) = find(&objects, "Service", "zk-admin") else {
            unreachable!()
        };
        svc.spec
            .as_ref()
            .unwrap()
            .ports
            .iter()
            .flatten()
            .map(|p| p.port)
            .collect()
    };
    assert_eq!(ports(THREE), [8080, 7000]);
    let objects = built(THREE);
    let labels = find(&objects, "Service", "zk-admin")
        .metadata()
        .labels
        .clone()
        .unwrap();
    assert_eq!(labels["app.kubernetes.io/component"], "admin");
    assert_eq!(
        ports("metadata: {name: zk, namespace: ns}\nspec: {metrics: {enabled: false}}\n"),
        [8080]
    );
}

#[test]
fn the_statefulset_runs_the_server_with_probes_volumes_and_a_non_root_user() {
    let objects = built(THREE);
    let s = sts(&objects);
    let spec = &s.spec;
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.service_name.as_deref(), Some("zk-hs"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    let pod = pod_spec(s);
    let c = &pod.containers[0];
    assert_eq!(
        c.command.as_deref().unwrap(),
        ["zkrs-server", "/data/zoo.cfg"]
    );
    let init = &pod.init_containers.as_ref().unwrap()[0];
    assert_eq!(
        init.command.as_deref().unwrap(),
        [
            "zkrs-operator",
            "prepare-member",
            "--conf",
            "/conf",
            "--data",
            "/data"
        ]
    );
    let env: Vec<&str> = init.env.iter().flatten().map(|e| e.name.as_str()).collect();
    assert_eq!(env, ["POD_NAME", "ZKRS_SUPER_DIGEST"]);
    assert_eq!(c.image.as_deref(), Some(crate::validate::DEFAULT_IMAGE));
    let readiness = c.readiness_probe.as_ref().unwrap();
    assert_eq!(
        readiness.exec.as_ref().unwrap().command.as_deref().unwrap(),
        ["zkrs-server", "status", "/data/zoo.cfg"]
    );
    assert!(c.liveness_probe.as_ref().unwrap().tcp_socket.is_some());
    let startup = c.startup_probe.as_ref().unwrap();
    let budget = startup.period_seconds.unwrap() * startup.failure_threshold.unwrap();
    assert!(budget >= 600, "startup budget {budget}s");
    let mounts: Vec<(&str, &str)> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.as_str(), m.mount_path.as_str()))
        .collect();
    assert_eq!(mounts, [("data", "/data"), ("config", "/conf")]);
    let sc = pod.security_context.as_ref().unwrap();
    assert_eq!(
        (sc.run_as_user, sc.fs_group, sc.run_as_non_root),
        (Some(1000), Some(1000), Some(true))
    );
    let claim = &spec.volume_claim_templates.as_ref().unwrap()[0];
    let size = &claim
        .spec
        .as_ref()
        .unwrap()
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap()["storage"];
    assert_eq!(size.0, "10Gi");
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .unwrap();
    assert_eq!(retention.when_scaled.as_deref(), Some("Retain"));
}

#[test]
fn the_default_affinity_is_a_soft_anti_affinity_and_the_users_replaces_it() {
    let objects = built(THREE);
    let anti = pod_spec(sts(&objects))
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .unwrap();
    assert!(anti
        .required_during_scheduling_ignored_during_execution
        .is_none());
    let preferred = anti
        .preferred_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap();
    assert_eq!(
        preferred[0].pod_affinity_term.topology_key,
        "kubernetes.io/hostname"
    );

    let objects = built(
        "metadata: {name: zk, namespace: ns}\nspec:\n  pod:\n    affinity:\n      nodeAffinity:\n        requiredDuringSchedulingIgnoredDuringExecution:\n          nodeSelectorTerms: [{matchExpressions: [{key: disk, operator: In, values: [ssd]}]}]\n",
    );
    let affinity = pod_spec(sts(&objects)).affinity.as_ref().unwrap();
    assert!(affinity.pod_anti_affinity.is_none());
    assert!(affinity.node_affinity.is_some());
}

#[test]
fn pod_pass_through_lands_in_the_template_and_operator_labels_win() {
    let objects = built(
        "metadata: {name: zk, namespace: ns}\nspec:\n  pod:\n    labels: {team: a, app.kubernetes.io/instance: other}\n    annotations: {note: x}\n    nodeSelector: {disk: ssd}\n    tolerations: [{key: k, operator: Exists}]\n    priorityClassName: high\n    topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway}]\n",
    );
    let s = sts(&objects);
    let meta = s.spec.template.metadata.as_ref().unwrap();
    let labels = meta.labels.as_ref().unwrap();
    assert_eq!(labels["team"], "a");
    assert_eq!(labels[INSTANCE_LABEL], "zk");
    assert_eq!(meta.annotations.as_ref().unwrap()["note"], "x");
    let pod = pod_spec(s);
    assert_eq!(pod.node_selector.as_ref().unwrap()["disk"], "ssd");
    assert_eq!(pod.tolerations.as_ref().unwrap().len(), 1);
    assert_eq!(pod.priority_class_name.as_deref(), Some("high"));
    assert_eq!(pod.topology_spread_constraints.as_ref().unwrap().len(), 1);
}

#[test]
fn a_config_change_changes_the_pod_template_hash_and_nothing_else_does() {
    let hash = |yaml: &str| -> String {
        let objects = built(yaml);
        let s = sts(&objects);
        s.spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()[CONFIG_HASH_ANNOTATION]
            .clone()
    };
    let base = hash(THREE);
    assert_eq!(
        base,
        hash("metadata: {name: zk, namespace: ns, uid: u-2}\nspec: {image: 'zkrs:other'}\n")
    );
    assert_ne!(
        base,
        hash("metadata: {name: zk, namespace: ns}\nspec: {config: {tickTime: 1000}}\n")
    );
}

#[test]
fn the_pdb_allows_one_member_down_and_can_be_turned_off() {
    let objects = built(THREE);
    let Owned::PodDisruptionBudget(p) = find(&objects, "PodDisruptionBudget", "zk") else {
        unreachable!()
    };
    assert_eq!(
        p.spec.as_ref().unwrap().max_unavailable,
        Some(IntOrString::Int(1))
    );
    let objects = built("metadata: {name: zk, namespace: ns}\nspec: {pdb: {enabled: false}}\n");
    assert!(objects.iter().all(|o| o.kind() != "PodDisruptionBudget"));
}

#[test]
fn the_registry_service_exists_only_when_enabled() {
    let objects = built(
        "metadata: {name: zk, namespace: ns}\nspec: {registry: {enabled: true, port: 9000, serviceType: LoadBalancer}}\n",
    );
    let Owned::Service(svc) = find(&objects, "Service", "zk-registry") else {
        unreachable!()
    };
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(spec.ports.as_ref().unwrap()[0].port, 9000);
    assert!(built(THREE).iter().all(|o| o.name() != "zk-registry"));
}

#[test]
fn the_registry_gateway_runs_in_the_same_image_apart_from_the_members() {
    let objects = built(
        "metadata: {name: zk, namespace: ns, uid: u-1}\nspec: {registry: {enabled: true}, image: 'zkrs:1'}\n",
    );
    let kinds: Vec<(&str, &str)> = objects.iter().map(|o| (o.kind(), o.name())).collect();
    let at = |k: &str| kinds.iter().position(|x| *x == (k, "zk-registry")).unwrap();
    assert!(at("ServiceAccount") < at("Deployment") && at("RoleBinding") < at("Deployment"));
    let Owned::Deployment(d) = find(&objects, "Deployment", "zk-registry") else {
        unreachable!()
    };
    let pod = d.spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("zk-registry"));
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("zkrs:1"));
    let cmd = c.command.as_ref().unwrap().join(" ");
    assert_eq!(
        cmd,
        "zkrs-operator registry-gateway --connect zk.ns.svc.cluster.local:2181 --listen 0.0.0.0:8081 \
         --namespace ns --cluster zk --mirror-endpointslices --owner-uid u-1"
    );
    // No selector of the members matches the gateway's pods, and the registry Service
    // selects exactly them.
    let pod_labels = d
        .spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap();
    let members = selector_labels(&validate(&cluster_from_yaml(THREE)).unwrap());
    assert!(!members.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
    let Owned::Service(svc) = find(&objects, "Service", "zk-registry") else {
        unreachable!()
    };
    let selector = svc.spec.as_ref().unwrap().selector.as_ref().unwrap();
    assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
    let Owned::RoleBinding(rb) = find(&objects, "RoleBinding", "zk-registry") else {
        unreachable!()
    };
    assert_eq!(
        (rb.role_ref.kind.as_str(), rb.role_ref.name.as_str()),
        ("ClusterRole", GATEWAY_CLUSTER_ROLE)
    );
    assert!(built(THREE)
        .iter()
        .all(|o| !matches!(o.kind(), "Deployment" | "RoleBinding" | "ServiceAccount")));
}

#[test]
fn the_yaml_stream_has_one_document_per_object() {
    let objects = built(THREE);
    let yaml = to_yaml_stream(&objects).unwrap();
    assert_eq!(yaml.matches("---\n").count(), objects.len());
    assert!(yaml.contains("kind: StatefulSet"));
    assert!(yaml.contains("apiVersion: apps/v1"));
}

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
