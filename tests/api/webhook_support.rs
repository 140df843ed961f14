//! Test support for webhooks: a local receiver (an actix server on 127.0.0.1) that records
//! deliveries and answers as scripted, an injectable DNS resolver, and two independent
//! signature verifiers — the official Python `standardwebhooks` library (through
//! `tests/support/verify_standard_webhooks.py`) and a hand-written one, neither sharing
//! code with the server's signer.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use copydesk_actors::ports::ManualClock;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

#[derive(Clone, Debug)]
pub struct Delivery {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// The server clock's time of arrival (when the test gave one).
    pub clock_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Delivery {
    pub fn id(&self) -> &str {
        &self.headers["webhook-id"]
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Default)]
struct State {
    got: Mutex<Vec<Delivery>>,
    /// Scripted answers per path: (status, headers); then 200.
    plan: Mutex<HashMap<String, VecDeque<(u16, Vec<(String, String)>)>>>,
    holds: Mutex<HashMap<String, Arc<Semaphore>>>,
    clock: Mutex<Option<Arc<ManualClock>>>,
}

#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    state: Arc<State>,
}

async fn receive(req: HttpRequest, body: web::Bytes, st: web::Data<Arc<State>>) -> HttpResponse {
    use copydesk_actors::ports::Clock;
    let path = req.path().to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let clock_at = st.clock.lock().unwrap().as_ref().map(|c| c.now());
    st.got.lock().unwrap().push(Delivery {
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        clock_at,
    });
    let hold = st.holds.lock().unwrap().get(&path).cloned();
    if let Some(h) = hold {
        h.acquire().await.unwrap().forget();
    }
    let planned = st
        .plan
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(|q| q.pop_front());
    let (status, hs) = planned.unwrap_or((200, Vec::new()));
    let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    for (k, v) in hs {
        r.insert_header((k, v));
    }
    r.body(format!("answer {status} from the test receiver"))
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let data = web::Data::new(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Records arrivals on this clock too.
    pub fn use_clock(&self, clock: &Arc<ManualClock>) {
        *self.state.clock.lock().unwrap() = Some(clock.clone());
    }

    /// The next answer on `path` (after those already planned; then 200).
    pub fn plan(&self, path: &str, status: u16, headers: &[(&str, &str)]) {
        let mut p = self.state.plan.lock().unwrap();
        let hs = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.entry(path.to_string())
            .or_default()
            .push_back((status, hs));
    }

    pub fn plan_many(&self, path: &str, statuses: &[u16]) {
        for s in statuses {
            self.plan(path, *s, &[]);
        }
    }

    /// Requests on `path` wait (after being recorded) until released.
    pub fn hold(&self, path: &str) {
        self.state
            .holds
            .lock()
            .unwrap()
            .insert(path.to_string(), Arc::new(Semaphore::new(0)));
    }

    pub fn release(&self, path: &str) {
        if let Some(h) = self.state.holds.lock().unwrap().get(path) {
            h.add_permits(10_000);
        }
    }

    pub fn got(&self, path: &str) -> Vec<Delivery> {
        self.state
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.path == path)
            .cloned()
            .collect()
    }
}

/// A resolver whose names answer as told (a list of answers per name, the last repeating);
/// other names go to the system.
#[derive(Default)]
pub struct TestResolver {
    names: Mutex<HashMap<String, VecDeque<Vec<IpAddr>>>>,
}

impl TestResolver {
    pub fn set(&self, name: &str, answers: &[&[&str]]) {
        let q = answers
            .iter()
            .map(|a| a.iter().map(|s| s.parse().unwrap()).collect())
            .collect();
        self.names.lock().unwrap().insert(name.to_string(), q);
    }
}

#[async_trait::async_trait]
impl copydesk::outbound::Resolve for TestResolver {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        let answer = {
            let mut names = self.names.lock().unwrap();
            names.get_mut(host).map(|q| {
                if q.len() > 1 {
                    q.pop_front().unwrap()
                } else {
                    q[0].clone()
                }
            })
        };
        match answer {
            Some(a) => Ok(a),
            None => copydesk::outbound::SystemResolver.lookup(host).await,
        }
    }
}

/// Hand-written verifier: the `v1,` signatures of `d` that `secret` made.
pub fn signed_by(d: &Delivery, secret: &str) -> usize {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let content = format!(
        "{}.{}.{}",
        d.headers["webhook-id"], d.headers["webhook-timestamp"], d.body
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(content.as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    d.headers["webhook-signature"]
        .split(' ')
        .filter(|s| *s == expected)
        .count()
}

/// Verifies deliveries with the official `standardwebhooks` Python library.
pub fn verify_with_official_library(deliveries: &[(&Delivery, &str)]) {
    use std::io::Write;
    let input: Vec<Value> = deliveries
        .iter()
        .map(|(d, secret)| json!({ "secret": secret, "headers": d.headers, "body": d.body }))
        .collect();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/verify_standard_webhooks.py"
    );
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test installs the standardwebhooks package)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the official standardwebhooks library refused a delivery (pip install standardwebhooks if missing): {text}"
    );
    assert!(
        text.contains(&format!("verified {}", deliveries.len())),
        "{text}"
    );
}

/// Polls `cond` until it holds, moving the clock by `step` between polls; fails after 30 s.
pub async fn until<F, Fut>(clock: &ManualClock, step: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reached in time: {what}"
        );
        clock.advance(step);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A fresh sign-in (after the clock moved past the access token's 15 minutes).
pub async fn relogin(
    app: &crate::helpers::TestApp,
    s: &crate::helpers::Session,
) -> crate::helpers::Session {
    let r = app.login(&s.email, crate::helpers::PASSWORD).await;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "sign in again");
    crate::helpers::session(crate::helpers::body(r).await)
}

/// An endpoint's row, read from the database (polls need no token).
pub async fn endpoint_row(
    app: &crate::helpers::TestApp,
    id: &str,
) -> copydesk::webhooks::entities::endpoints::Model {
    use sea_orm::EntityTrait;
    copydesk::webhooks::entities::endpoints::Entity::find_by_id(id.parse::<uuid::Uuid>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .expect("endpoint exists")
}

/// An endpoint's messages, read from the database.
pub async fn message_rows(
    app: &crate::helpers::TestApp,
    endpoint: &str,
) -> Vec<copydesk::webhooks::entities::messages::Model> {
    use copydesk::webhooks::entities::messages;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    messages::Entity::find()
        .filter(messages::Column::EndpointId.eq(endpoint.parse::<uuid::Uuid>().unwrap()))
        .order_by_asc(messages::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap()
}
