//! `PostSession` on in-memory ports: ordering, durability before broadcast, unload, a
//! failing store, and server edits. No database, no sockets: peers are the channels a
//! connection task would drain.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use async_trait::async_trait;
use copydesk_actors::doc::{self, ContentEdit};
use copydesk_actors::memory_bus::MemoryBus;
use copydesk_actors::memory_store::MemoryDocStore;
use copydesk_actors::ports::{DocContent, DocHooks, PeerUser};
use copydesk_actors::post_session::{
    Edit, Frame, Join, Leave, Outbound, PostSession, PresenceChanged, Read, SessionConfig,
    SessionDeps, SessionIdle, SessionOwner,
};
use copydesk_actors::protocol::{self, close, Incoming};
use tokio::sync::mpsc;
use uuid::Uuid;
use yrs::{ReadTxn, StateVector, Text, Transact};

/// Fails the test if `f` does not finish in time — a bound on a hang, not a wait.
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

struct NoHooks;

#[async_trait]
impl DocHooks for NoHooks {
    async fn content_changed(&self, _: Uuid, _: DocContent, _: Vec<Uuid>) {}
    async fn auto_version(&self, _: Uuid, _: Vec<u8>) {}
}

/// Stands in for the workspace hub: records what the session reports.
#[derive(Default)]
struct Owner {
    idle: Arc<Mutex<Vec<Uuid>>>,
}

impl Actor for Owner {
    type Context = Context<Self>;
}

impl Handler<SessionIdle> for Owner {
    type Result = ();
    fn handle(&mut self, m: SessionIdle, _: &mut Context<Self>) {
        self.idle.lock().unwrap().push(m.post_id);
    }
}

impl Handler<PresenceChanged> for Owner {
    type Result = ();
    fn handle(&mut self, _: PresenceChanged, _: &mut Context<Self>) {}
}

struct Rig {
    post: Uuid,
    store: MemoryDocStore,
    session: Addr<PostSession>,
    idle: Arc<Mutex<Vec<Uuid>>>,
}

fn rig(config: SessionConfig) -> Rig {
    let store = MemoryDocStore::new();
    let post = Uuid::new_v4();
    let idle = Arc::new(Mutex::new(Vec::new()));
    let session = start_node(
        post,
        &store,
        Arc::new(MemoryBus::new()),
        idle.clone(),
        config,
    );
    Rig {
        post,
        store,
        session,
        idle,
    }
}

/// A session for `post` as one node runs it (its own node id) on a shared store and bus.
fn start_node(
    post: Uuid,
    store: &MemoryDocStore,
    bus: Arc<MemoryBus>,
    idle: Arc<Mutex<Vec<Uuid>>>,
    config: SessionConfig,
) -> Addr<PostSession> {
    let owner = Owner { idle }.start();
    let deps = SessionDeps {
        store: Arc::new(store.clone()),
        bus,
        hooks: Arc::new(NoHooks),
        node_id: Uuid::new_v4(),
        config,
    };
    PostSession::new(
        post,
        SessionOwner {
            idle: owner.clone().recipient(),
            presence: owner.recipient(),
        },
        deps,
    )
    .start()
}

fn join(r: &Rig, conn: u64, can_write: bool) -> mpsc::Receiver<Outbound> {
    join_session(&r.session, conn, can_write)
}

fn join_session(
    session: &Addr<PostSession>,
    conn: u64,
    can_write: bool,
) -> mpsc::Receiver<Outbound> {
    let (tx, rx) = mpsc::channel(64);
    session.do_send(Join {
        conn,
        tx: tx.into(),
        can_write,
        user: PeerUser {
            id: Uuid::new_v4(),
            name: format!("peer {conn}"),
        },
    });
    rx
}

/// A client's edit: `text` appended to the caption of a doc at `state`.
fn client_update(client: &yrs::Doc, text: &str) -> Vec<u8> {
    let before = client.transact().state_vector();
    let t = client.get_or_insert_text("caption");
    {
        let mut txn = client.transact_mut();
        let len = t.len(&txn);
        t.insert(&mut txn, len, text);
    }
    client.transact().encode_state_as_update_v1(&before)
}

/// The document updates in the frames a peer has been sent so far.
fn drain_updates(rx: &mut mpsc::Receiver<Outbound>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Ok(m) = rx.try_recv() {
        if let Outbound::Frame(b) = m {
            for msg in protocol::parse_frame(&b).unwrap() {
                if let Incoming::Update(u) = msg {
                    out.push(u);
                }
            }
        }
    }
    out
}

async fn caption(r: &Rig) -> String {
    r.session.send(Read).await.unwrap().content.caption
}

#[actix_rt::test]
async fn nothing_is_broadcast_before_it_is_logged() {
    let r = rig(SessionConfig::default());
    let _a = join(&r, 1, true);
    let mut b = join(&r, 2, true);
    caption(&r).await; // joined, initial frames queued
    drain_updates(&mut b);

    r.store.close_gate();
    let client = doc::new_doc(Some(7));
    let u = client_update(&client, "hello");
    r.session.do_send(Frame {
        conn: 1,
        msgs: vec![Incoming::Update(u.clone())],
    });
    // The session has handled the frame (this Read is behind it in the mailbox) but the log
    // write is held: no peer may have it, and the document does not show it.
    assert_eq!(caption(&r).await, "");
    assert!(drain_updates(&mut b).is_empty(), "broadcast before durable");
    assert_eq!(r.store.appends(), 0);

    r.store.release(1);
    let got = within(async {
        loop {
            if let Some(Outbound::Frame(f)) = b.recv().await {
                if let Some(Incoming::Update(u)) = protocol::parse_frame(&f).unwrap().pop() {
                    return u;
                }
            }
        }
    })
    .await;
    assert_eq!(r.store.log(r.post), vec![u.clone()]);
    let replica = doc::new_doc(None);
    doc::apply(&replica, &got).unwrap();
    assert_eq!(doc::read_content(&replica).caption, "hello");
    assert_eq!(caption(&r).await, "hello");
}

#[actix_rt::test]
async fn updates_are_logged_and_sent_in_the_order_they_came() {
    let r = rig(SessionConfig::default());
    let _a = join(&r, 1, true);
    let mut b = join(&r, 2, true);
    caption(&r).await;
    drain_updates(&mut b);
    let client = doc::new_doc(Some(9));
    let sent: Vec<Vec<u8>> = ["one ", "two ", "three"]
        .iter()
        .map(|t| client_update(&client, t))
        .collect();
    for u in &sent {
        r.session.do_send(Frame {
            conn: 1,
            msgs: vec![Incoming::Update(u.clone())],
        });
    }
    within(async {
        while r.store.log(r.post).len() < 3 {
            caption(&r).await;
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(r.store.log(r.post), sent, "logged in arrival order");
    assert_eq!(caption(&r).await, "one two three");
    // B's replica, from exactly what it was sent, converges.
    let replica = doc::new_doc(None);
    for u in drain_updates(&mut b) {
        doc::apply(&replica, &u).unwrap();
    }
    assert_eq!(doc::read_content(&replica).caption, "one two three");
}

#[actix_rt::test]
async fn a_store_that_keeps_failing_closes_the_document_and_sends_nothing_unlogged() {
    let r = rig(SessionConfig {
        max_append_failures: 3,
        ..SessionConfig::default()
    });
    let mut a = join(&r, 1, true);
    let mut b = join(&r, 2, true);
    caption(&r).await;
    drain_updates(&mut b);
    r.store.fail_next(usize::MAX);
    let client = doc::new_doc(Some(11));
    r.session.do_send(Frame {
        conn: 1,
        msgs: vec![Incoming::Update(client_update(&client, "lost"))],
    });
    for rx in [&mut a, &mut b] {
        let code = within(async {
            loop {
                match rx.recv().await {
                    Some(Outbound::Close(code, _)) => return code,
                    Some(Outbound::Frame(f)) => {
                        let msgs = protocol::parse_frame(&f).unwrap();
                        assert!(
                            !msgs.iter().any(|m| matches!(m, Incoming::Update(_))),
                            "an unlogged update was sent"
                        );
                    }
                    None => return 0,
                }
            }
        })
        .await;
        assert_eq!(code, close::SERVER_ERROR);
    }
    within(async {
        while r.session.connected() {
            tokio::task::yield_now().await;
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(r.store.log(r.post).is_empty());
}

#[actix_rt::test]
async fn an_idle_session_asks_to_unload() {
    let r = rig(SessionConfig {
        idle_unload: Duration::ZERO,
        awareness_timeout: Duration::from_millis(40),
        ..SessionConfig::default()
    });
    let _a = join(&r, 1, true);
    caption(&r).await;
    assert!(r.idle.lock().unwrap().is_empty(), "not idle with a peer");
    r.session.do_send(Leave { conn: 1 });
    within(async {
        while r.idle.lock().unwrap().is_empty() {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(*r.idle.lock().unwrap(), vec![r.post]);
}

#[actix_rt::test]
async fn concurrent_server_edits_never_blend_and_the_last_one_wins() {
    let r = rig(SessionConfig::default());
    r.store.close_gate();
    let values = ["alpha 29 one", "beta 29 two", "gamma 29 three"];
    let answers: Vec<_> = values
        .iter()
        .map(|v| {
            r.session.send(Edit(ContentEdit {
                caption: Some(v.to_string()),
                ..ContentEdit::default()
            }))
        })
        .collect();
    r.store.release(100);
    let mut results = Vec::new();
    for a in answers {
        results.push(within(a).await.unwrap().unwrap().caption);
    }
    // Each edit saw exactly its own value applied, in order.
    assert_eq!(results, values);
    assert_eq!(caption(&r).await, "gamma 29 three");
    // The log replays to the same document: no update was dropped for a reused clock.
    let replica = doc::new_doc(None);
    for u in r.store.log(r.post) {
        doc::apply(&replica, &u).unwrap();
    }
    assert_eq!(doc::read_content(&replica).caption, "gamma 29 three");
    let sv = replica.transact().state_vector();
    assert_eq!(
        sv,
        {
            let d = doc::new_doc(None);
            let full = r.session.send(Read).await.unwrap().state;
            doc::apply(&d, &full).unwrap();
            let s = d.transact().state_vector();
            s
        },
        "replica and session agree"
    );
    let _ = StateVector::default();
}

/// Issue 8, bug 7: a reconnecting client's SyncStep2 carries its whole delete set even when
/// the server has every deletion already. Such an update changes nothing: it is neither
/// logged nor sent to anyone — while a deletion the server lacks still is.
#[actix_rt::test]
async fn updates_that_change_nothing_are_neither_logged_nor_sent() {
    let r = rig(SessionConfig::default());
    let _a = join(&r, 1, true);
    let mut b = join(&r, 2, true);
    caption(&r).await;
    drain_updates(&mut b);

    let client = doc::new_doc(Some(11));
    let insert = client_update(&client, "hello world");
    let t = client.get_or_insert_text("caption");
    let before = client.transact().state_vector();
    t.remove_range(&mut client.transact_mut(), 0, 6);
    let delete = client.transact().encode_diff_v1(&before);
    for u in [&insert, &delete] {
        r.session.do_send(Frame {
            conn: 1,
            msgs: vec![Incoming::Update(u.clone())],
        });
    }
    within(async {
        while r.store.log(r.post).len() < 2 {
            caption(&r).await;
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(caption(&r).await, "world");
    drain_updates(&mut b);
    let appends = r.store.appends();

    // The client reconnects: its SyncStep2 against the server's state vector is only its
    // delete set, which the server already has. The repeated deletion alone, likewise.
    let sv = r.session.send(Read).await.unwrap().state;
    let server = doc::new_doc(None);
    doc::apply(&server, &sv).unwrap();
    let step2 = client
        .transact()
        .encode_diff_v1(&server.transact().state_vector());
    assert!(
        !doc::is_empty_update(&step2),
        "SyncStep2 carries the delete set"
    );
    for u in [step2, delete.clone()] {
        r.session.do_send(Frame {
            conn: 1,
            msgs: vec![Incoming::Update(u)],
        });
    }
    caption(&r).await;
    caption(&r).await;
    assert_eq!(r.store.appends(), appends, "a no-op update was logged");
    assert!(drain_updates(&mut b).is_empty(), "a no-op update was sent");

    // A deletion the server does not have yet is a change: logged and sent.
    let before = client.transact().state_vector();
    t.remove_range(&mut client.transact_mut(), 0, 1);
    let delete_more = client.transact().encode_diff_v1(&before);
    r.session.do_send(Frame {
        conn: 1,
        msgs: vec![Incoming::Update(delete_more)],
    });
    within(async {
        while r.store.appends() == appends {
            caption(&r).await;
            tokio::task::yield_now().await;
        }
    })
    .await;
    let sent = within(async {
        loop {
            let got = drain_updates(&mut b);
            if !got.is_empty() {
                return got;
            }
            caption(&r).await;
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(sent.len(), 1);
    assert_eq!(caption(&r).await, "orld");
}

#[actix_rt::test]
async fn a_session_starting_on_another_node_learns_who_is_already_there() {
    use copydesk_actors::protocol::{AwarenessUpdate, AwarenessUpdateEntry};
    let (post, store, bus) = (
        Uuid::new_v4(),
        MemoryDocStore::new(),
        Arc::new(MemoryBus::new()),
    );
    let idle = Arc::new(Mutex::new(Vec::new()));
    let one = start_node(
        post,
        &store,
        bus.clone(),
        idle.clone(),
        SessionConfig::default(),
    );
    let _ann = join_session(&one, 1, true);
    let ann = yrs::block::ClientID::new(77);
    one.do_send(Frame {
        conn: 1,
        msgs: vec![Incoming::Awareness(AwarenessUpdate {
            clients: [(
                ann,
                AwarenessUpdateEntry {
                    clock: 1,
                    json: r#"{"user":{"name":"Ann"}}"#.into(),
                },
            )]
            .into(),
        })],
    });
    one.send(Read).await.unwrap();

    // The post opens on a second node after Ann set her state, and Ann's client sends
    // nothing more: Bob on that node still sees her (not only at her next renewal).
    let two = start_node(post, &store, bus, idle, SessionConfig::default());
    let mut bob = join_session(&two, 2, true);
    within(async {
        loop {
            let Some(Outbound::Frame(b)) = bob.recv().await else {
                panic!("Bob's connection ended");
            };
            let sees_ann = protocol::parse_frame(&b).unwrap().into_iter().any(|m| {
                matches!(m, Incoming::Awareness(a) if a.clients.get(&ann).is_some_and(|e| e.json.contains("Ann")))
            });
            if sees_ann {
                break;
            }
        }
    })
    .await;
}

/// A bus that loses the next document update published while `drop_next` is set, as Redis
/// pub/sub does for a subscriber that is away.
struct LosingBus {
    inner: MemoryBus,
    drop_next: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl copydesk_actors::ports::Bus for LosingBus {
    async fn publish(
        &self,
        topic: &str,
        msg: copydesk_actors::ports::BusMessage,
    ) -> Result<(), copydesk_actors::ports::BusError> {
        // Kind 0 is a document update (see post_session/bus.rs).
        if msg.first() == Some(&0)
            && self
                .drop_next
                .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(());
        }
        self.inner.publish(topic, msg).await
    }

    async fn subscribe(
        &self,
        topic: &str,
    ) -> Result<
        futures_util::stream::BoxStream<'static, copydesk_actors::ports::BusMessage>,
        copydesk_actors::ports::BusError,
    > {
        self.inner.subscribe(topic).await
    }

    async fn ping(&self) -> Result<(), copydesk_actors::ports::BusError> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "losing"
    }
}

#[actix_rt::test]
async fn a_node_that_misses_an_update_asks_for_it_as_soon_as_it_sees_the_gap() {
    use yrs::GetString;
    let (post, store) = (Uuid::new_v4(), MemoryDocStore::new());
    let bus = Arc::new(LosingBus {
        inner: MemoryBus::new(),
        drop_next: false.into(),
    });
    let idle = Arc::new(Mutex::new(Vec::new()));
    // The periodic repair round is an hour away: only the gap can trigger the repair.
    let config = SessionConfig {
        repair_interval: Duration::from_secs(3600),
        ..SessionConfig::default()
    };
    let node = |bus: Arc<LosingBus>| {
        let owner = Owner { idle: idle.clone() }.start();
        PostSession::new(
            post,
            SessionOwner {
                idle: owner.clone().recipient(),
                presence: owner.recipient(),
            },
            SessionDeps {
                store: Arc::new(store.clone()),
                bus,
                hooks: Arc::new(NoHooks),
                node_id: Uuid::new_v4(),
                config: config.clone(),
            },
        )
        .start()
    };
    let one = node(bus.clone());
    let two = node(bus.clone());
    let _ann = join_session(&one, 1, true);
    let mut bob = join_session(&two, 2, true);
    one.send(Read).await.unwrap();
    two.send(Read).await.unwrap();

    // Ann types "a" (lost on its way to node two), then "b", which builds on "a".
    let ann_doc = yrs::Doc::with_client_id(7);
    bus.drop_next
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let a = client_update(&ann_doc, "a");
    one.do_send(Frame {
        conn: 1,
        msgs: vec![Incoming::Update(a)],
    });
    // Until the first update has gone out (and been lost).
    within(async {
        while bus.drop_next.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let b = client_update(&ann_doc, "b");
    one.do_send(Frame {
        conn: 1,
        msgs: vec![Incoming::Update(b)],
    });

    // Bob, on node two, gets both well before any repair round.
    let bob_doc = yrs::Doc::new();
    let text = bob_doc.get_or_insert_text("caption");
    within(async {
        loop {
            let Some(Outbound::Frame(f)) = bob.recv().await else {
                panic!("Bob's connection ended");
            };
            for m in protocol::parse_frame(&f).unwrap() {
                if let Incoming::Update(u) = m {
                    doc::apply(&bob_doc, &u).unwrap();
                }
            }
            if text.get_string(&bob_doc.transact()) == "ab" {
                break;
            }
        }
    })
    .await;
    assert_eq!(
        two.send(Read).await.unwrap().content.caption,
        "ab",
        "node two's own document is whole too"
    );
}
