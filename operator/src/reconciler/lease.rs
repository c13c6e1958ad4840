//! One active operator at a time: whoever holds the `coordination.k8s.io` Lease reconciles;
//! the others wait for it to expire. Writes carry the Lease's resourceVersion, so two
//! candidates racing for an expired Lease cannot both win (the loser gets a 409).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::Api;
use tracing::{debug, info};

/// Who competes for which Lease, and its timing.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    /// How long a holder that stops renewing keeps the Lease.
    pub duration: Duration,
    /// How often the holder renews (well within `duration`).
    pub renew_every: Duration,
}

/// What a candidate should do about the Lease it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or the holder let it expire: take it.
    Acquire,
    /// We hold it: renew.
    Renew,
    /// Someone else holds it and is alive: wait.
    Wait,
}

pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Acquire;
    };
    match spec.holder_identity.as_deref() {
        None | Some("") => Decision::Acquire,
        Some(h) if h == identity => Decision::Renew,
        Some(_) => {
            let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(15));
            let expired = spec
                .renew_time
                .as_ref()
                .map(|t| t.0 + SignedDuration::from_secs(seconds) < now)
                .unwrap_or(true);
            if expired {
                Decision::Acquire
            } else {
                Decision::Wait
            }
        }
    }
}

fn spec_for(cfg: &LeaseConfig, now: Timestamp, previous: Option<&LeaseSpec>) -> LeaseSpec {
    let same_holder =
        previous.and_then(|p| p.holder_identity.as_deref()) == Some(cfg.identity.as_str());
    let transitions = previous.and_then(|p| p.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(cfg.identity.clone()),
        lease_duration_seconds: Some(i32::try_from(cfg.duration.as_secs()).unwrap_or(15)),
        acquire_time: if same_holder {
            previous.and_then(|p| p.acquire_time.clone())
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if same_holder {
            transitions
        } else {
            transitions + 1
        }),
        ..Default::default()
    }
}

/// One attempt to take or keep the Lease. Ok(true) when we hold it afterwards.
pub async fn try_hold(
    api: &Api<Lease>,
    cfg: &LeaseConfig,
    now: Timestamp,
) -> Result<bool, kube::Error> {
    match api.get_opt(&cfg.name).await? {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(cfg.name.clone()),
                    namespace: Some(cfg.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(spec_for(cfg, now, None)),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                // Someone created it first.
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(mut lease) => match decide(lease.spec.as_ref(), &cfg.identity, now) {
            Decision::Wait => Ok(false),
            Decision::Acquire | Decision::Renew => {
                lease.spec = Some(spec_for(cfg, now, lease.spec.as_ref()));
                // `replace` sends the resourceVersion we read: a concurrent writer makes
                // this a 409 instead of two holders.
                match api.replace(&cfg.name, &PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
        },
    }
}

/// Waits until we hold the Lease. Errors are logged and retried.
pub async fn acquire(api: &Api<Lease>, cfg: &LeaseConfig) {
    loop {
        match try_hold(api, cfg, Timestamp::now()).await {
            Ok(true) => {
                info!(lease = %cfg.name, identity = %cfg.identity, "holding the lease: this replica reconciles");
                return;
            }
            Ok(false) => debug!(lease = %cfg.name, "another replica holds the lease; waiting"),
            Err(e) => debug!(lease = %cfg.name, error = %e, "could not read or write the lease"),
        }
        tokio::time::sleep(cfg.renew_every).await;
    }
}

/// Renews until a renewal fails for longer than the Lease lasts; returns then (the caller
/// stops reconciling: another replica may hold the Lease by now).
pub async fn keep(api: &Api<Lease>, cfg: &LeaseConfig) {
    let mut last_ok = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cfg.renew_every).await;
        match try_hold(api, cfg, Timestamp::now()).await {
            Ok(true) => last_ok = tokio::time::Instant::now(),
            Ok(false) => return,
            Err(e) => debug!(error = %e, "renewing the lease failed"),
        }
        if last_ok.elapsed() > cfg.duration {
            return;
        }
    }
}

/// Gives the Lease up on shutdown so the next replica need not wait for it to expire.
pub async fn release(api: &Api<Lease>, cfg: &LeaseConfig) {
    let Ok(Some(mut lease)) = api.get_opt(&cfg.name).await else {
        return;
    };
    let ours = lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        == Some(cfg.identity.as_str());
    if !ours {
        return;
    }
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = None;
    }
    if let Err(e) = api.replace(&cfg.name, &PostParams::default(), &lease).await {
        debug!(error = %e, "could not release the lease");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: &str, renewed: Timestamp) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_string()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(renewed)),
            ..Default::default()
        }
    }

    #[test]
    fn a_missing_or_released_lease_is_taken() {
        let now = Timestamp::UNIX_EPOCH + SignedDuration::from_secs(1000);
        assert_eq!(decide(None, "a", now), Decision::Acquire);
        let released = LeaseSpec::default();
        assert_eq!(decide(Some(&released), "a", now), Decision::Acquire);
    }

    #[test]
    fn a_live_holder_is_waited_for_and_an_expired_one_replaced() {
        let t0 = Timestamp::UNIX_EPOCH + SignedDuration::from_secs(1000);
        let lease = held_by("b", t0);
        assert_eq!(
            decide(Some(&lease), "a", t0 + SignedDuration::from_secs(10)),
            Decision::Wait
        );
        assert_eq!(
            decide(Some(&lease), "a", t0 + SignedDuration::from_secs(16)),
            Decision::Acquire
        );
        assert_eq!(
            decide(Some(&lease), "b", t0 + SignedDuration::from_secs(10)),
            Decision::Renew
        );
    }

    #[test]
    fn taking_over_counts_a_transition_and_renewing_does_not() {
        let cfg = LeaseConfig {
            name: "l".into(),
            namespace: "ns".into(),
            identity: "a".into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        };
        let t0 = Timestamp::UNIX_EPOCH;
        let mut theirs = held_by("b", t0);
        theirs.lease_transitions = Some(2);
        assert_eq!(spec_for(&cfg, t0, Some(&theirs)).lease_transitions, Some(3));
        let mut ours = held_by("a", t0);
        ours.lease_transitions = Some(3);
        assert_eq!(spec_for(&cfg, t0, Some(&ours)).lease_transitions, Some(3));
    }
}
