//! Why a reconcile failed, with the object it failed on.

/// One variant per step, each naming what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading StatefulSet {name}: {source}")]
    Observe {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("listing the members' pods: {source}")]
    ObservePods {
        #[source]
        source: kube::Error,
    },
    #[error("deleting pod {name} to restart it: {source}")]
    DeletePod {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("applying {kind} {name}: {source}")]
    Apply {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("listing {kind}s to find orphans: {source}")]
    ListOrphans {
        kind: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("deleting orphaned {kind} {name}: {source}")]
    DeleteOrphan {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status: {source}")]
    Status {
        #[source]
        source: kube::Error,
    },
    #[error("reading or creating Secret {name}: {source}")]
    Secret {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("Secret {name} has no password (delete it to have a new one made, which restarts no member but needs every member restarted to take the new digest)")]
    BadSecret { name: String },
    #[error("making a random password: {0}")]
    Random(#[source] std::io::Error),
    #[error("serialising {kind} {name}: {source}")]
    Serialize {
        kind: &'static str,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// A stable CamelCase category for conditions, Events, logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Observe { .. } | Error::ObservePods { .. } => "ObserveFailed",
            Error::DeletePod { .. } => "RestartFailed",
            Error::Apply { source, .. } if http_code(source) == Some(409) => "ApplyConflict",
            Error::Apply { .. } => "ApplyFailed",
            Error::ListOrphans { .. } | Error::DeleteOrphan { .. } => "PruneFailed",
            Error::Status { .. } => "StatusFailed",
            Error::Serialize { .. } => "SerializeFailed",
            Error::Secret { .. } | Error::BadSecret { .. } | Error::Random(_) => "SecretFailed",
        }
    }
}

/// The HTTP status of an API error, if the API server answered.
pub fn http_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}
