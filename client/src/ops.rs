//! Every operation of the protocol, as methods of [`Client`]. Paths are relative to the
//! chroot and validated before anything is sent; versions are `Option<i32>` (`None`: any).

use zkrs_proto::request::{
    AddWatchRequest, PathType, PathVersion, PathWatch, ReconfigRequest, SetAclRequest,
    SetDataRequest,
};
use zkrs_proto::{
    Acl, AddWatchMode, AuthPacket, ClientInfo, OpCode, Request, Response, Stat, WatcherType,
};

use crate::client::Client;
use crate::config::EnsembleConfig;
use crate::error::{Error, Result};
use crate::multi::{create_request, read_results, write_results, Op, OpResult, ReadOp, ReadResult};
use crate::types::CreateOptions;
use crate::watch::{OneshotWatcher, PersistentWatcher, Registration};

/// Where the ensemble's dynamic configuration lives; never under the chroot.
pub const CONFIG_NODE: &str = "/zookeeper/config";

fn unexpected<T>(what: &str, r: Response) -> Result<T> {
    Err(Error::Protocol(format!(
        "unexpected reply to {what}: {r:?}"
    )))
}

impl Client {
    fn server_path(&self, path: &str) -> Result<String> {
        self.shared.chroot.server_path(path, false)
    }

    fn client_path(&self, path: &str) -> String {
        self.shared.chroot.strip(path)
    }

    /// Creates a node and returns its path (with the sequence number for sequential modes).
    /// `options` is a [`CreateOptions`] or just a `CreateMode` (open ACL).
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        options: impl Into<CreateOptions>,
    ) -> Result<String> {
        Ok(self
            .create_inner(path, Some(data), &options.into(), false)
            .await?
            .0)
    }

    /// Creates a node and returns its path and Stat (`create2`).
    pub async fn create_with_stat(
        &self,
        path: &str,
        data: &[u8],
        options: impl Into<CreateOptions>,
    ) -> Result<(String, Stat)> {
        match self
            .create_inner(path, Some(data), &options.into(), true)
            .await?
        {
            (p, Some(stat)) => Ok((p, stat)),
            (_, None) => Err(Error::Protocol("create2 answered without a Stat".into())),
        }
    }

    /// Creates a node whose data is null (what `zkCli.sh create /path` without data does);
    /// it reads back as empty data.
    pub async fn create_without_data(
        &self,
        path: &str,
        options: impl Into<CreateOptions>,
    ) -> Result<String> {
        Ok(self
            .create_inner(path, None, &options.into(), false)
            .await?
            .0)
    }

    async fn create_inner(
        &self,
        path: &str,
        data: Option<&[u8]>,
        options: &CreateOptions,
        want_stat: bool,
    ) -> Result<(String, Option<Stat>)> {
        let request = create_request(&self.shared.chroot, path, data, options, want_stat)?;
        match self.call(request, None).await? {
            Response::Create(p) => Ok((self.client_path(&p), None)),
            Response::Create2(p, s) => Ok((self.client_path(&p), Some(s))),
            r => unexpected("create", r),
        }
    }

    /// Creates `path` and its missing ancestors as empty persistent nodes; existing ones are
    /// left alone.
    pub async fn ensure_path(&self, path: &str) -> Result<()> {
        self.server_path(path)?;
        let mut prefix = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            match self
                .create(&prefix, b"", zkrs_proto::CreateMode::Persistent)
                .await
            {
                Ok(_) | Err(Error::NodeExists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Deletes a node; `version: None` whatever its version.
    pub async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        let request = Request::Delete(PathVersion {
            path: self.server_path(path)?,
            version: version.unwrap_or(-1),
        });
        self.call(request, None).await.map(|_| ())
    }

    /// Deletes a node and everything below it (not atomically). A missing node is fine.
    pub async fn delete_recursive(&self, path: &str) -> Result<()> {
        // Depth-first, bounded by the tree: each node is listed once and deleted once.
        let mut stack = vec![(path.to_string(), false)];
        while let Some((p, listed)) = stack.pop() {
            if listed {
                match self.delete(&p, None).await {
                    Ok(()) | Err(Error::NoNode) => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            let children = match self.get_children(&p).await {
                Ok(c) => c,
                Err(Error::NoNode) => continue,
                Err(e) => return Err(e),
            };
            stack.push((p.clone(), true));
            for c in children {
                stack.push((zkrs_proto::path::join(&p, &c), false));
            }
        }
        Ok(())
    }

    /// The node's Stat, or `None` if it does not exist.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.exists_inner(path, None).await
    }

    /// Like [`Client::exists`], and sets a watch: it fires on creation if the node does not
    /// exist, else on data change or deletion.
    pub async fn exists_and_watch(&self, path: &str) -> Result<(Option<Stat>, OneshotWatcher)> {
        let (watcher, tx) = OneshotWatcher::new();
        let reg = Registration::Exists(self.server_path(path)?, tx);
        let stat = self.exists_inner(path, Some(reg)).await?;
        Ok((stat, watcher))
    }

    async fn exists_inner(&self, path: &str, reg: Option<Registration>) -> Result<Option<Stat>> {
        let request = Request::Exists(PathWatch {
            path: self.server_path(path)?,
            watch: reg.is_some(),
        });
        match self.call(request, reg).await {
            Ok(Response::Stat(s)) => Ok(Some(s)),
            Ok(r) => unexpected("exists", r),
            Err(Error::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The node's data (empty for null data) and Stat.
    pub async fn get_data(&self, path: &str) -> Result<(Vec<u8>, Stat)> {
        let (data, stat) = self.get_data_inner(path, None).await?;
        Ok((data.unwrap_or_default(), stat))
    }

    /// The node's data, `None` if it was created with null data.
    pub async fn get_data_nullable(&self, path: &str) -> Result<(Option<Vec<u8>>, Stat)> {
        self.get_data_inner(path, None).await
    }

    /// Like [`Client::get_data`], and sets a watch that fires on data change or deletion.
    pub async fn get_data_and_watch(&self, path: &str) -> Result<(Vec<u8>, Stat, OneshotWatcher)> {
        let (watcher, tx) = OneshotWatcher::new();
        let reg = Registration::Data(self.server_path(path)?, tx);
        let (data, stat) = self.get_data_inner(path, Some(reg)).await?;
        Ok((data.unwrap_or_default(), stat, watcher))
    }

    async fn get_data_inner(
        &self,
        path: &str,
        reg: Option<Registration>,
    ) -> Result<(Option<Vec<u8>>, Stat)> {
        let request = Request::GetData(PathWatch {
            path: self.server_path(path)?,
            watch: reg.is_some(),
        });
        match self.call(request, reg).await? {
            Response::GetData(d, s) => Ok((d, s)),
            r => unexpected("getData", r),
        }
    }

    /// Replaces the node's data if its version matches (`None`: any); returns the new Stat.
    pub async fn set_data(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat> {
        let request = Request::SetData(SetDataRequest {
            path: self.server_path(path)?,
            data: Some(data.to_vec()),
            version: version.unwrap_or(-1),
        });
        match self.call(request, None).await? {
            Response::Stat(s) => Ok(s),
            r => unexpected("setData", r),
        }
    }

    /// The node's ACL and Stat.
    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        let request = Request::GetAcl(self.server_path(path)?);
        match self.call(request, None).await? {
            Response::GetAcl(acl, s) => Ok((acl, s)),
            r => unexpected("getACL", r),
        }
    }

    /// Replaces the node's ACL if its ACL version (`aversion`) matches (`None`: any).
    pub async fn set_acl(&self, path: &str, acl: &[Acl], version: Option<i32>) -> Result<Stat> {
        let request = Request::SetAcl(SetAclRequest {
            path: self.server_path(path)?,
            acl: acl.to_vec(),
            version: version.unwrap_or(-1),
        });
        match self.call(request, None).await? {
            Response::Stat(s) => Ok(s),
            r => unexpected("setACL", r),
        }
    }

    /// The names of the node's children (unordered).
    pub async fn get_children(&self, path: &str) -> Result<Vec<String>> {
        let request = Request::GetChildren(
            OpCode::GetChildren,
            PathWatch {
                path: self.server_path(path)?,
                watch: false,
            },
        );
        match self.call(request, None).await? {
            Response::GetChildren(c) => Ok(c),
            r => unexpected("getChildren", r),
        }
    }

    /// The children and the node's Stat (`getChildren2`).
    pub async fn get_children_and_stat(&self, path: &str) -> Result<(Vec<String>, Stat)> {
        self.get_children2(path, None).await
    }

    /// The children and Stat, and a watch that fires when a child is added or removed, or
    /// the node is deleted.
    pub async fn get_children_and_watch(
        &self,
        path: &str,
    ) -> Result<(Vec<String>, Stat, OneshotWatcher)> {
        let (watcher, tx) = OneshotWatcher::new();
        let reg = Registration::Child(self.server_path(path)?, tx);
        let (children, stat) = self.get_children2(path, Some(reg)).await?;
        Ok((children, stat, watcher))
    }

    async fn get_children2(
        &self,
        path: &str,
        reg: Option<Registration>,
    ) -> Result<(Vec<String>, Stat)> {
        let request = Request::GetChildren(
            OpCode::GetChildren2,
            PathWatch {
                path: self.server_path(path)?,
                watch: reg.is_some(),
            },
        );
        match self.call(request, reg).await? {
            Response::GetChildren2(c, s) => Ok((c, s)),
            r => unexpected("getChildren2", r),
        }
    }

    /// The number of nodes below `path` (all descendants, not counting `path`).
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32> {
        let request = Request::GetAllChildrenNumber(self.server_path(path)?);
        match self.call(request, None).await? {
            Response::GetAllChildrenNumber(n) => Ok(n),
            r => unexpected("getAllChildrenNumber", r),
        }
    }

    /// This session's ephemeral nodes whose paths start with `prefix` (a plain string
    /// prefix: `/e` also matches `/eee`). `/` lists them all.
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        let request = Request::GetEphemerals(self.server_path(prefix)?);
        match self.call(request, None).await? {
            Response::GetEphemerals(v) => Ok(v.iter().map(|p| self.client_path(p)).collect()),
            r => unexpected("getEphemerals", r),
        }
    }

    /// Waits until the server this client is connected to has caught up with the leader.
    pub async fn sync(&self, path: &str) -> Result<()> {
        let request = Request::Sync(self.server_path(path)?);
        match self.call(request, None).await? {
            Response::Sync(_) | Response::Empty => Ok(()),
            r => unexpected("sync", r),
        }
    }

    /// Applies every write atomically, or none. On failure the error is [`Error::Multi`]
    /// with the failing index and the per-operation results.
    pub async fn multi(&self, ops: impl IntoIterator<Item = Op>) -> Result<Vec<OpResult>> {
        let requests = ops
            .into_iter()
            .map(|op| op.to_request(&self.shared.chroot))
            .collect::<Result<Vec<_>>>()?;
        let n = requests.len();
        match self
            .call(Request::Multi(OpCode::Multi, requests), None)
            .await?
        {
            Response::Multi(results) if results.len() == n => {
                write_results(&self.shared.chroot, results)
            }
            r => unexpected("multi", r),
        }
    }

    /// Runs reads together (`multiRead`); each succeeds or fails on its own.
    pub async fn multi_read(
        &self,
        ops: impl IntoIterator<Item = ReadOp>,
    ) -> Result<Vec<ReadResult>> {
        let requests = ops
            .into_iter()
            .map(|op| op.to_request(&self.shared.chroot))
            .collect::<Result<Vec<_>>>()?;
        let n = requests.len();
        match self
            .call(Request::Multi(OpCode::MultiRead, requests), None)
            .await?
        {
            Response::Multi(results) if results.len() == n => read_results(results),
            r => unexpected("multiRead", r),
        }
    }

    /// Adds credentials to the session (e.g. `("digest", b"user:password")`). They are sent
    /// again on every reconnect. If the server rejects them the session ends with
    /// `AuthFailed`, as with the Java client.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        self.auth(AuthPacket {
            auth_type: 0,
            scheme: scheme.to_string(),
            auth: auth.to_vec(),
        })
        .await
    }

    /// The identities the server associates with this session.
    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>> {
        match self.call(Request::WhoAmI, None).await? {
            Response::WhoAmI(v) => Ok(v),
            r => unexpected("whoAmI", r),
        }
    }

    /// The ensemble configuration (`/zookeeper/config`, outside any chroot).
    pub async fn get_config(&self) -> Result<(Vec<u8>, Stat)> {
        let request = Request::GetData(PathWatch {
            path: CONFIG_NODE.to_string(),
            watch: false,
        });
        match self.call(request, None).await? {
            Response::GetData(d, s) => Ok((d.unwrap_or_default(), s)),
            r => unexpected("getConfig", r),
        }
    }

    /// Like [`Client::get_config`], with a watch on the configuration.
    pub async fn get_config_and_watch(&self) -> Result<(Vec<u8>, Stat, OneshotWatcher)> {
        let (watcher, tx) = OneshotWatcher::new();
        let request = Request::GetData(PathWatch {
            path: CONFIG_NODE.to_string(),
            watch: true,
        });
        let reg = Registration::Data(CONFIG_NODE.to_string(), tx);
        match self.call(request, Some(reg)).await? {
            Response::GetData(d, s) => Ok((d.unwrap_or_default(), s, watcher)),
            r => unexpected("getConfig", r),
        }
    }

    /// Reads the ensemble configuration and makes its servers' client addresses this
    /// client's server list ([`Client::update_server_list`]); returns the configuration.
    /// Call it after a reconfig (or from a [`Client::get_config_and_watch`] loop) so that
    /// the session never tries removed members and can use new ones.
    pub async fn update_server_list_from_config(&self) -> Result<EnsembleConfig> {
        let (data, _) = self.get_config().await?;
        let text = String::from_utf8(data)
            .map_err(|_| Error::Protocol("the configuration is not UTF-8".into()))?;
        let config = EnsembleConfig::parse(&text)?;
        let connect_string = config.connect_string(self.chroot())?;
        self.update_server_list(&connect_string).await?;
        Ok(config)
    }

    /// Keeps this client's server list equal to the ensemble's configuration from now on:
    /// a task that watches `/zookeeper/config` and applies every change. It ends when the
    /// session does (or when the returned handle is aborted).
    pub fn follow_config(&self) -> tokio::task::JoinHandle<()> {
        let client = self.clone();
        tokio::spawn(async move {
            loop {
                let watcher = match client.get_config_and_watch().await {
                    Ok((data, _, watcher)) => {
                        let applied = match std::str::from_utf8(&data)
                            .map_err(|_| Error::Protocol("config is not UTF-8".into()))
                            .and_then(EnsembleConfig::parse)
                            .and_then(|c| c.connect_string(client.chroot()))
                        {
                            Ok(cs) => client.update_server_list(&cs).await.map(|_| ()),
                            Err(e) => Err(e),
                        };
                        if let Err(e) = applied {
                            if e.is_terminal() {
                                return;
                            }
                            tracing::warn!("server list not updated from the config: {e}");
                        }
                        watcher
                    }
                    Err(e) if e.is_terminal() => return,
                    Err(_) => {
                        // Disconnected: try again once the session is back (bounded by the
                        // session's own life).
                        if client
                            .wait_for_state(
                                crate::SessionState::SyncConnected,
                                client
                                    .session_timeout()
                                    .max(std::time::Duration::from_secs(1)),
                            )
                            .await
                            .is_some_and(|s| s.is_terminal())
                        {
                            return;
                        }
                        continue;
                    }
                };
                let event = watcher.await;
                if event.event_type == crate::EventType::None && client.state().is_terminal() {
                    return;
                }
            }
        })
    }

    /// Changes the ensemble membership: incrementally (`joining`/`leaving`, comma-separated
    /// server specs and ids) or wholesale (`new_members`). `from_config` is the config
    /// version expected (`None`: any). Returns the new configuration.
    pub async fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: Option<i64>,
    ) -> Result<(Vec<u8>, Stat)> {
        let request = Request::Reconfig(ReconfigRequest {
            joining_servers: joining.map(str::to_string),
            leaving_servers: leaving.map(str::to_string),
            new_members: new_members.map(str::to_string),
            cur_config_id: from_config.unwrap_or(-1),
        });
        match self.call(request, None).await? {
            Response::GetData(d, s) => Ok((d.unwrap_or_default(), s)),
            r => unexpected("reconfig", r),
        }
    }

    /// Sets a persistent (or persistent recursive) watch on `path` and returns its event
    /// stream. It stays set (across reconnects) until removed or the session ends.
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<PersistentWatcher> {
        let server_path = self.server_path(path)?;
        let (watcher, tx) = PersistentWatcher::new(path.to_string(), mode);
        let request = Request::AddWatch(AddWatchRequest {
            path: server_path.clone(),
            mode: mode.code(),
        });
        let reg = Registration::Persistent(server_path, mode, tx);
        self.call(request, Some(reg)).await?;
        Ok(watcher)
    }

    /// Removes this session's watches of `kind` on `path`, on the server and locally; local
    /// watchers get a `DataWatchRemoved`/`ChildWatchRemoved`/`PersistentWatchRemoved` event.
    /// Fails with [`Error::NoWatcher`] if the server has none.
    pub async fn remove_watches(&self, path: &str, kind: WatcherType) -> Result<()> {
        let server_path = self.server_path(path)?;
        let request = Request::RemoveWatches(PathType {
            path: server_path.clone(),
            watcher_type: kind.code(),
        });
        let reg = Registration::Remove(server_path, kind);
        self.call(request, Some(reg)).await.map(|_| ())
    }

    /// Checks that the server holds a watch of `kind` on `path` for this session
    /// ([`Error::NoWatcher`] if not).
    pub async fn check_watches(&self, path: &str, kind: WatcherType) -> Result<()> {
        let request = Request::CheckWatches(PathType {
            path: self.server_path(path)?,
            watcher_type: kind.code(),
        });
        self.call(request, None).await.map(|_| ())
    }
}
