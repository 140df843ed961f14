//! Two nodes serving the same document. On SQLite they share one database file and one
//! in-process bus; under `scripts/test` they share PostgreSQL and a Redis this test starts
//! itself, so it can restart it.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use copydesk::config::{Secret, Settings};
use serde_json::json;

use crate::helpers::*;
use crate::yclient::YClient;

pub(crate) struct Redis {
    pub(crate) port: u16,
    child: Option<Child>,
}

impl Redis {
    pub(crate) fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    pub(crate) async fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            port,
            child: Some(child),
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn node_settings(s: &mut Settings, db: &str, redis: Option<u16>, prefix: &str) {
    s.database.url = Some(Secret::new(db.to_string()));
    s.auth.jwt_secret = Secret::new("one-secret-shared-by-every-node-000");
    s.collab.repair_interval_secs = 1;
    if let Some(port) = redis {
        s.redis.url = Some(Secret::new(format!("redis://127.0.0.1:{port}")));
        s.redis.prefix = prefix.to_string();
    }
}

#[actix_web::test]
async fn two_nodes_converge_and_heal_after_a_bus_outage() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("cluster-{}", uuid::Uuid::new_v4().simple());
    let (db, mut redis, shared_bus) = if is_postgres() {
        let port = Redis::free_port();
        (
            fresh_postgres_url().await,
            Some(Redis::start(port).await),
            None,
        )
    } else {
        let bus: Arc<dyn copydesk_actors::ports::Bus> =
            Arc::new(copydesk_actors::memory_bus::MemoryBus::new());
        (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("cluster.db").display()
            ),
            None,
            Some(bus),
        )
    };
    let port = redis.as_ref().map(|r| r.port);
    let n1 = spawn_node(|s| node_settings(s, &db, port, &prefix), shared_bus.clone()).await;
    let n2 = spawn_node(|s| node_settings(s, &db, port, &prefix), shared_bus.clone()).await;

    let s = n1.register_verified(&email("node"), "Node").await;
    let ws = n1.create_workspace(&s, "Cluster").await;
    let post = n1
        .create_post(&s, &ws, json!({ "caption": "Shared" }))
        .await;
    let post = post["id"].as_str().unwrap();

    let mut a = YClient::open(&n1, post, &s).await;
    let mut b = YClient::open(&n2, post, &s).await;
    a.append(" by A").await;
    b.until(|c| c.caption() == "Shared by A").await;
    b.type_at(0, "B: ").await;
    a.until(|c| c.caption() == "B: Shared by A").await;

    let Some(r) = redis.as_mut() else { return };
    // Redis goes away: each node keeps serving its own clients.
    r.stop();
    let mut a2 = YClient::open(&n1, post, &s).await;
    a.append(" [a offline]").await;
    a2.until(|c| c.caption().ends_with("[a offline]")).await;
    b.type_at(0, "[b offline] ").await;
    b.until(|c| c.caption().starts_with("[b offline]")).await;
    // Redis returns on the same port: the nodes resubscribe and repair what they missed.
    *r = Redis::start(r.port).await;
    let done = |c: &YClient| {
        let t = c.caption();
        t.starts_with("[b offline] ") && t.ends_with(" [a offline]")
    };
    a.until(done).await;
    b.until(done).await;
    assert_eq!(a.caption(), b.caption());
}
