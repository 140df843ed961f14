//! Issue 6 on two nodes: the change is made through node 1's REST API, the sockets it must
//! close, narrow or make read-only are on node 2, so it has to travel on the bus. On SQLite
//! the nodes share a database file and an in-process bus; under `scripts/test` (PostgreSQL)
//! they share a database and the Redis at `COPYDESK_TEST_REDIS_URL` under one key prefix.
//! Both nodes run on one clock.

use std::sync::Arc;

use copydesk::config::{Secret, Settings};
use copydesk_actors::ports::ManualClock;

use crate::hardening_sockets as scenario;
use crate::helpers::*;

struct Pair {
    rest: TestApp,
    sock: TestApp,
    _dir: tempfile::TempDir,
}

async fn pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("hardening-{}", uuid::Uuid::new_v4().simple());
    let (db, bus) = if is_postgres() {
        (fresh_postgres_url().await, None)
    } else {
        let bus: Arc<dyn copydesk_actors::ports::Bus> =
            Arc::new(copydesk_actors::memory_bus::MemoryBus::new());
        (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("cluster.db").display()
            ),
            Some(bus),
        )
    };
    let clock = Arc::new(ManualClock::new());
    let settings = |s: &mut Settings| {
        s.database.url = Some(Secret::new(db.clone()));
        s.auth.jwt_secret = Secret::new("one-secret-shared-by-every-node-000");
        if is_postgres() {
            // spawn_node points both at the test Redis; one prefix makes it one cluster.
            s.redis.prefix = prefix.clone();
        }
    };
    let rest = spawn_node_with_clock(settings, bus.clone(), clock.clone()).await;
    let sock = spawn_node_with_clock(settings, bus, clock).await;
    Pair {
        rest,
        sock,
        _dir: dir,
    }
}

#[actix_web::test]
async fn logout_on_one_node_closes_sockets_on_the_other() {
    let p = pair().await;
    scenario::logout_closes_every_socket_of_the_user(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn password_reset_on_one_node_closes_sockets_on_the_other() {
    let p = pair().await;
    scenario::password_reset_closes_every_socket_of_the_user(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn password_change_on_one_node_closes_sockets_on_the_other() {
    let p = pair().await;
    scenario::password_change_closes_every_socket_of_the_user(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn refresh_reuse_on_one_node_closes_sockets_on_the_other() {
    let p = pair().await;
    scenario::refresh_reuse_closes_every_socket_of_the_user(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn member_removal_on_one_node_closes_sockets_on_the_other() {
    let p = pair().await;
    scenario::member_removal_closes_their_sockets(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn workspace_deletion_on_one_node_closes_sockets_on_the_other() {
    let p = pair().await;
    scenario::workspace_deletion_closes_its_sockets(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn post_deletion_on_one_node_closes_sockets_on_the_other() {
    let p = pair().await;
    scenario::post_deletion_closes_its_sockets(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn demotion_on_one_node_makes_sockets_on_the_other_read_only() {
    let p = pair().await;
    scenario::demotion_makes_the_collab_socket_read_only(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn demotion_on_one_node_narrows_event_streams_on_the_other() {
    let p = pair().await;
    scenario::demotion_to_client_narrows_the_event_stream(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn removal_on_one_node_narrows_event_streams_on_the_other() {
    let p = pair().await;
    scenario::removal_from_one_workspace_keeps_the_others_streaming(&p.rest, &p.sock).await;
}

#[actix_web::test]
async fn unsharing_on_one_node_cuts_off_clients_on_the_other() {
    let p = pair().await;
    scenario::unsharing_a_post_cuts_its_client_off(&p.rest, &p.sock).await;
}
