//! Access that changes while a socket is open.
//!
//! A socket is authorised at connect, but access can end at any moment after: logout, a
//! password change or reset, refresh-token reuse, removal from a workspace, a demotion, a
//! post that stops being shared with clients, a post or workspace deleted. Each such write
//! calls [`announce`] after commit; the change travels on the cluster bus (topic `access`)
//! to every node, where [`spawn_watcher`] tells the node's [`Sockets`] registry, which asks
//! every affected socket to **re-check its access from the database**. The socket then
//! closes (4401 for credentials, 4403 for lost access), turns read-only, or narrows what it
//! streams. Re-checking against the database, rather than trusting the message, keeps one
//! rule: the database decides.
//!
//! Redis pub/sub may drop a message; every socket also re-checks every
//! `collab.recheck_secs`, and closes at its token's expiry regardless (4401).
//!
//! The registry also enforces the per-user and per-IP connection caps (per node).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use copydesk_actors::collab::Collab;
use copydesk_actors::ports::Bus;
use copydesk_actors::protocol::close;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::ApiError;

const TOPIC: &str = "access";

/// What changed; sockets that might be affected re-check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccessChange {
    /// The user's credentials changed (logout, password, reuse, verification): every socket
    /// of the user re-checks its token version.
    User { user_id: Uuid },
    /// The user's membership of a workspace changed (removed, role changed, joined).
    Membership { workspace_id: Uuid, user_id: Uuid },
    /// A post's visibility changed, or it was deleted.
    Post {
        workspace_id: Uuid,
        post_id: Uuid,
        deleted: bool,
    },
    /// The workspace was deleted.
    Workspace { workspace_id: Uuid },
}

/// Publishes `change` to every node (this one included). Best effort: sockets also
/// re-check periodically.
pub async fn announce(bus: &dyn Bus, change: AccessChange) {
    let payload = serde_json::to_vec(&change).unwrap_or_default();
    if let Err(e) = bus.publish(TOPIC, payload).await {
        tracing::warn!(error = %e, ?change, "could not announce an access change; sockets will re-check on their timer");
    }
}

/// A socket's "access may have changed: check it again" signal. Requests made while one
/// is pending (or while the socket is re-checking) coalesce into one: a re-check reads the
/// database as it is then, so one is enough. (A `Notify` rather than a channel: an idle
/// socket holds tens of bytes for it, not a channel's cache-padded half a kilobyte.)
#[derive(Clone, Default)]
pub struct RecheckSignal(Arc<Notify>);

impl RecheckSignal {
    /// Resolves once a re-check is asked for (at once if one is pending).
    pub async fn requested(&self) {
        self.0.notified().await
    }

    fn request(&self) {
        self.0.notify_one()
    }

    /// Takes a pending request, if any, without waiting.
    #[cfg(test)]
    fn take(&self) -> bool {
        use futures_util::FutureExt;
        self.0.notified().now_or_never().is_some()
    }
}

/// What an open socket shows, for routing changes to it.
#[derive(Clone, Debug)]
pub enum Scope {
    Post { workspace_id: Uuid, post_id: Uuid },
    Workspaces(HashSet<Uuid>),
}

struct Entry {
    user_id: Uuid,
    ip: Option<String>,
    scope: Scope,
    recheck: RecheckSignal,
}

#[derive(Default)]
struct Inner {
    next: u64,
    conns: HashMap<u64, Entry>,
    per_user: HashMap<Uuid, usize>,
    per_ip: HashMap<String, usize>,
}

/// This node's open sockets.
#[derive(Clone, Default)]
pub struct Sockets {
    inner: Arc<Mutex<Inner>>,
}

/// A registered socket; dropping it unregisters.
pub struct Registration {
    pub id: u64,
    sockets: Sockets,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.sockets.inner.lock().unwrap();
        if let Some(e) = inner.conns.remove(&self.id) {
            if let Some(n) = inner.per_user.get_mut(&e.user_id) {
                *n -= 1;
                if *n == 0 {
                    inner.per_user.remove(&e.user_id);
                }
            }
            if let Some(ip) = e.ip {
                if let Some(n) = inner.per_ip.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        inner.per_ip.remove(&ip);
                    }
                }
            }
        }
    }
}

impl Sockets {
    /// Registers a socket, unless the user or the IP already holds its cap of sockets here.
    pub fn register(
        &self,
        user_id: Uuid,
        ip: Option<String>,
        scope: Scope,
        max_per_user: usize,
        max_per_ip: usize,
    ) -> Result<(Registration, RecheckSignal), ApiError> {
        let mut inner = self.inner.lock().unwrap();
        let by_user = inner.per_user.get(&user_id).copied().unwrap_or(0);
        let by_ip = ip
            .as_ref()
            .and_then(|i| inner.per_ip.get(i).copied())
            .unwrap_or(0);
        if by_user >= max_per_user || by_ip >= max_per_ip {
            return Err(ApiError::TooManyConnections);
        }
        let recheck = RecheckSignal::default();
        inner.next += 1;
        let id = inner.next;
        *inner.per_user.entry(user_id).or_default() += 1;
        if let Some(i) = &ip {
            *inner.per_ip.entry(i.clone()).or_default() += 1;
        }
        inner.conns.insert(
            id,
            Entry {
                user_id,
                ip,
                scope,
                recheck: recheck.clone(),
            },
        );
        Ok((
            Registration {
                id,
                sockets: self.clone(),
            },
            recheck,
        ))
    }

    /// Updates what a socket shows (an events socket's workspaces after a re-check).
    pub fn set_scope(&self, id: u64, scope: Scope) {
        if let Some(e) = self.inner.lock().unwrap().conns.get_mut(&id) {
            e.scope = scope;
        }
    }

    /// Asks every socket `change` may affect to re-check.
    pub fn dispatch(&self, change: &AccessChange) {
        let inner = self.inner.lock().unwrap();
        for e in inner.conns.values() {
            let touches_ws = |ws: &Uuid| match &e.scope {
                Scope::Post { workspace_id, .. } => workspace_id == ws,
                Scope::Workspaces(set) => set.contains(ws),
            };
            let affected = match change {
                AccessChange::User { user_id } => e.user_id == *user_id,
                // Joining adds a workspace to an events socket; leaving removes one.
                AccessChange::Membership { user_id, .. } => e.user_id == *user_id,
                AccessChange::Post {
                    workspace_id,
                    post_id,
                    ..
                } => match &e.scope {
                    Scope::Post { post_id: p, .. } => p == post_id,
                    Scope::Workspaces(set) => set.contains(workspace_id),
                },
                AccessChange::Workspace { workspace_id } => touches_ws(workspace_id),
            };
            if affected {
                e.recheck.request();
            }
        }
    }

    /// Open sockets on this node (for metrics and tests).
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Listens for access changes from every node and hands them to this node's sockets; a
/// deleted post or workspace also loses its live sessions here. Re-subscribes with backoff
/// if the bus drops the subscription.
pub fn spawn_watcher(bus: Arc<dyn Bus>, sockets: Sockets, collab: Collab) {
    crate::rt::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match bus.subscribe(TOPIC).await {
                Ok(mut stream) => {
                    backoff = Duration::from_millis(100);
                    while let Some(msg) = stream.next().await {
                        let Ok(change) = serde_json::from_slice::<AccessChange>(&msg) else {
                            tracing::warn!("ignoring a malformed access change");
                            continue;
                        };
                        match &change {
                            AccessChange::Post {
                                workspace_id,
                                post_id,
                                deleted: true,
                            } => collab.discard(
                                *workspace_id,
                                Some(*post_id),
                                close::ACCESS_LOST,
                                "this post was deleted",
                            ),
                            AccessChange::Workspace { workspace_id } => collab.discard(
                                *workspace_id,
                                None,
                                close::ACCESS_LOST,
                                "this workspace was deleted",
                            ),
                            _ => {}
                        }
                        sockets.dispatch(&change);
                    }
                    tracing::warn!("access-change subscription ended; re-subscribing");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot subscribe to access changes; retrying")
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_routing() {
        let s = Sockets::default();
        let (u, v, ws, post) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let scope = || Scope::Post {
            workspace_id: ws,
            post_id: post,
        };
        let (a, arx) = s
            .register(u, Some("1.1.1.1".into()), scope(), 2, 3)
            .unwrap();
        let (_b, _brx) = s
            .register(u, Some("1.1.1.1".into()), scope(), 2, 3)
            .unwrap();
        assert!(s.register(u, None, scope(), 2, 3).is_err(), "user cap");
        let (_c, crx) = s
            .register(
                v,
                Some("1.1.1.1".into()),
                Scope::Workspaces([ws].into()),
                2,
                3,
            )
            .unwrap();
        assert!(
            s.register(v, Some("1.1.1.1".into()), scope(), 2, 3)
                .is_err(),
            "ip cap"
        );
        drop(a);
        assert!(
            s.register(u, None, scope(), 2, 3).is_ok(),
            "a slot was freed"
        );

        s.dispatch(&AccessChange::User { user_id: v });
        assert!(crx.take());
        assert!(!crx.take(), "taken");
        assert!(!arx.take());
        s.dispatch(&AccessChange::Post {
            workspace_id: ws,
            post_id: Uuid::new_v4(),
            deleted: true,
        });
        s.dispatch(&AccessChange::Workspace { workspace_id: ws });
        assert!(
            crx.take(),
            "events socket of the workspace; two requests, one re-check"
        );
        assert!(!crx.take());
    }
}
