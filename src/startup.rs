//! `Application::build` wires settings into a running server: storage (migrated), keys,
//! Redis (optional), the bus, the mailer, metrics, and the HTTP app. It binds before it
//! returns, so port 0 works and [`Application::port`] tells which port was picked — which is
//! how every integration test gets its own real server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::HttpService;
use actix_server::Server;
use actix_service::{IntoServiceFactory, ServiceFactoryExt};
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App};
use copydesk_actors::edit_rules::EditRules;
use copydesk_actors::memory_bus::MemoryBus;
use copydesk_actors::ports::{Bus, Clock, SystemClock};

use crate::auth::throttle::{Limiter, MemoryLimiter, RedisLimiter};
use crate::auth::tokens::JwtKeys;
use crate::bus::RedisBus;
use crate::collab::{hooks::ServerHooks, store::DbDocStore};
use crate::config::Settings;
use crate::error::{extractors, ApiError};
use crate::events::consumers::{Redeliver, Registry};
use crate::events::outbox::{LiveTail, SqlOutbox};
use crate::http::{health, metrics, middleware, openapi, static_files, upgrade};
use crate::jobs::maintenance;
use crate::jobs::store::{SqlCronStore, SqlJobQueue};
use crate::jobs::{Extra, Work};
use crate::keys::Keys;
use crate::mail::Mailer;
use crate::state::AppState;
use crate::{auth, collab as live, posts, store, versions, workspaces};
use copydesk_actors::collab::Collab;
use copydesk_actors::cron::CronJob;
use copydesk_actors::post_session::{SessionConfig, SessionDeps};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

async fn connect_redis(
    url: &str,
) -> anyhow::Result<(redis::Client, redis::aio::ConnectionManager)> {
    let client = redis::Client::open(url)
        .map_err(|e| anyhow::anyhow!("invalid setting `redis.url`: {e}"))?;
    let manager = tokio::time::timeout(
        Duration::from_secs(10),
        redis::aio::ConnectionManager::new_with_config(
            client.clone(),
            // Bounded: with Redis down, a request waits at most this long before the
            // callers' fallbacks (per-node throttling, local bus delivery) take over.
            redis::aio::ConnectionManagerConfig::new()
                .set_response_timeout(Some(Duration::from_secs(1)))
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_number_of_retries(2),
        ),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))?
    .map_err(|e| anyhow::anyhow!("cannot connect to Redis: {e}"))?;
    Ok((client, manager))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, None, None).await
    }

    /// Like [`Application::build`], but with a given cluster bus instead of the configured
    /// one — how tests run several nodes in one process on one in-process bus.
    pub async fn build_with_bus(
        settings: Settings,
        shared_bus: Option<Arc<dyn Bus>>,
    ) -> anyhow::Result<Self> {
        Self::build_with(settings, shared_bus, None).await
    }

    /// An optional shared bus and an optional clock (tests pass a `ManualClock` and move
    /// it instead of waiting).
    pub async fn build_with(
        settings: Settings,
        shared_bus: Option<Arc<dyn Bus>>,
        clock: Option<Arc<dyn Clock>>,
    ) -> anyhow::Result<Self> {
        Self::build_with_options(
            settings,
            Options {
                bus: shared_bus,
                clock,
                extra: Extra::default(),
                resolver: None,
            },
        )
        .await
    }

    /// The general form: see [`Options`].
    pub async fn build_with_options(settings: Settings, opts: Options) -> anyhow::Result<Self> {
        let Options {
            bus: shared_bus,
            clock,
            mut extra,
            resolver,
        } = opts;
        let clock: Arc<dyn Clock> = clock.unwrap_or_else(|| Arc::new(SystemClock));
        let db = store::connect(&settings).await?;
        store::migrate(&db).await?;
        store::spawn_sqlite_checkpoints(db.clone());
        let keys = Keys::load(&settings)?;

        let (redis, limiter, bus): (_, Arc<dyn Limiter>, Arc<dyn Bus>) = match settings.redis.url()
        {
            Some(url) => {
                let (client, manager) = connect_redis(url).await?;
                (
                    Some(manager.clone()),
                    Arc::new(RedisLimiter::new(
                        manager.clone(),
                        &settings.redis.prefix,
                        clock.clone(),
                    )),
                    Arc::new(RedisBus::new(client, manager, &settings.redis.prefix)),
                )
            }
            None => (
                None,
                Arc::new(MemoryLimiter::new(clock.clone())),
                Arc::new(MemoryBus::new()),
            ),
        };
        let bus = shared_bus.unwrap_or(bus);

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {}:{}: {e}",
                    settings.server.host,
                    settings.server.port
                )
            })?;
        let addr = listener.local_addr()?;
        let public_url = settings.public_url(addr.port());
        let mailer = Arc::new(Mailer::from_settings(&settings)?);
        let c = &settings.collab;
        let work = Work::default();
        let keeper = crate::approvals::Keeper::default();
        let announcer = crate::events::Announcer {
            bus: bus.clone(),
            work: work.clone(),
            clock: clock.clone(),
        };
        let store = DbDocStore::with_sync(
            db.clone(),
            settings.database.sqlite_synchronous == crate::config::SqliteSync::Full,
        );
        let hooks = ServerHooks::new(db.clone(), announcer, keeper.clone())
            .with_log_writer(store.log_writer());
        let deps = SessionDeps {
            store: Arc::new(store),
            bus: bus.clone(),
            hooks: Arc::new(hooks),
            node_id: uuid::Uuid::new_v4(),
            config: SessionConfig {
                idle_unload: Duration::from_secs(c.idle_unload_secs),
                awareness_timeout: Duration::from_secs(c.awareness_timeout_secs),
                repair_interval: Duration::from_secs(c.repair_interval_secs),
                compact_every: c.compact_every,
                compact_min_bytes: c.compact_min_kib * 1024,
                auto_version_every: Duration::from_secs(c.auto_version_minutes * 60),
                ..SessionConfig::default()
            },
        };
        let doc_store = deps.store.clone();
        let collab = Collab::new(deps, c.threads);
        let sockets = crate::access::Sockets::default();
        let outbox = SqlOutbox::new(db.clone());
        let outbound = crate::outbound::Guard::new(&settings.outbound, resolver)?;
        let encryption_key = Arc::new(keys.encryption_key);
        crate::webhooks::delivery::register(
            &mut extra,
            crate::webhooks::delivery::Deps::new(
                db.clone(),
                crate::events::Announcer {
                    bus: bus.clone(),
                    work: work.clone(),
                    clock: clock.clone(),
                },
                encryption_key.clone(),
                outbound.clone(),
                mailer.clone(),
                settings.webhooks.clone(),
                public_url.clone(),
            ),
        );
        let notify = crate::notify::Notify::new(
            db.clone(),
            crate::events::Announcer {
                bus: bus.clone(),
                work: work.clone(),
                clock: clock.clone(),
            },
            encryption_key.clone(),
            outbound.clone(),
            &mailer,
            settings.push.clone(),
            public_url.clone(),
        );
        crate::notify::register(
            &mut extra,
            notify.clone(),
            &settings.notifications,
            &settings.jobs.time_zone,
        )?;
        work.set_tail(LiveTail::spawn(outbox.clone(), collab.clone(), bus.clone()));
        if settings.jobs.enabled {
            start_work(
                &work,
                &settings,
                &db,
                clock.clone(),
                outbox.clone(),
                doc_store,
                extra,
            )?;
            let deadlines = crate::approvals::deadlines::SqlDeadlines::new(
                db.clone(),
                crate::events::Announcer {
                    bus: bus.clone(),
                    work: work.clone(),
                    clock: clock.clone(),
                },
            );
            keeper.set(actix::Actor::start(
                copydesk_actors::approval_deadlines::DeadlineKeeper::new(
                    deadlines,
                    clock.clone(),
                    Duration::from_secs(settings.approvals.poll_secs),
                ),
            ));
        }
        crate::access::spawn_watcher(bus.clone(), sockets.clone(), collab.clone());
        let edit_rules = Arc::new(EditRules {
            platforms: crate::platforms::Platform::ALL
                .iter()
                .map(|p| p.as_str().to_string())
                .collect(),
            ..EditRules::default()
        });
        let setup_token = crate::setup::issue_token_if_needed(&db, clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("setup token: {e}"))?;
        if let Some(t) = &setup_token {
            // Deliberately on stderr, not in the structured log: a one-time bootstrap
            // credential for whoever started the server.
            eprintln!(
                "\ncopydesk: no super admin yet. Create one at {public_url}/setup?token={t}\n          (or run `copydesk admin create --email you@example.com --name You`)\n"
            );
        }

        let state = AppState {
            db,
            jwt: JwtKeys::new(&keys.jwt_secret, &settings.auth),
            encryption_key,
            mailer: mailer.clone(),
            limiter,
            bus,
            redis,
            collab,
            public_url: public_url.clone(),
            settings: Arc::new(settings),
            clock,
            sockets,
            edit_rules,
            setup_token,
            work,
            outbox,
            outbound,
            notify,
            approvals: keeper,
        };
        let server = build_server(listener, state.clone())?;
        tracing::info!(
            addr = %addr,
            url = %public_url,
            database = if state.settings.database.is_postgres() { "postgres" } else { "sqlite" },
            bus = state.bus.name(),
            mail = %mailer.describe(),
            "listening"
        );
        Ok(Self {
            port: addr.port(),
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the server: `handle().stop(true)` drains in-flight requests first.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// A clone of the live-document registry, to flush it on shutdown.
    pub fn collab(&self) -> Collab {
        self.state.collab.clone()
    }

    /// Serves until stopped through [`Application::handle`]; in-flight requests then get up
    /// to `server.shutdown_timeout_secs` to finish. (`main` turns SIGTERM/SIGINT into a stop;
    /// actix's own signal handling is off because it is installed only once the server is
    /// first polled, which would let an early SIGTERM kill the process outright.)
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// What [`Application::build_with_options`] takes besides the settings.
#[derive(Default)]
pub struct Options {
    /// A bus shared with other nodes in this process (instead of the configured one).
    pub bus: Option<Arc<dyn Bus>>,
    /// The clock (default: the system clock).
    pub clock: Option<Arc<dyn Clock>>,
    /// Extra job handlers, consumers and cron schedules (tests).
    pub extra: Extra,
    /// The DNS resolver of the SSRF guard (default: the system's; tests inject names).
    pub resolver: Option<Arc<dyn crate::outbound::Resolve>>,
}

/// Starts this node's job runner, outbox consumers and cron schedules.
fn start_work(
    work: &Work,
    settings: &Settings,
    db: &sea_orm::DatabaseConnection,
    clock: Arc<dyn Clock>,
    outbox: SqlOutbox,
    doc_store: Arc<dyn copydesk_actors::ports::DocStore>,
    extra: Extra,
) -> anyhow::Result<()> {
    let j = &settings.jobs;
    let mut registry = Registry::default();
    for (name, h) in extra.consumers {
        registry.add(&name, h);
    }
    let mut handlers: std::collections::HashMap<
        String,
        Arc<dyn copydesk_actors::ports::JobHandler>,
    > = std::collections::HashMap::new();
    handlers.insert(
        crate::jobs::admin::REDELIVER.to_string(),
        Arc::new(Redeliver {
            db: db.clone(),
            registry: registry.clone(),
        }),
    );
    for (kind, h) in extra.job_handlers {
        handlers.insert(kind, h);
    }
    let schedule =
        |name: &str, task: Arc<dyn copydesk_actors::ports::CronTask>| -> anyhow::Result<CronJob> {
            Ok(CronJob {
                name: name.to_string(),
                next_after: crate::jobs::cron_schedule(&j.maintenance_cron, &j.time_zone)?,
                task,
            })
        };
    let mut crons = vec![
        schedule(
            "maintenance.purge",
            Arc::new(maintenance::Purge { db: db.clone() }),
        )?,
        schedule(
            "maintenance.outbox_retention",
            Arc::new(maintenance::OutboxRetention {
                db: db.clone(),
                days: j.outbox_retention_days,
            }),
        )?,
        schedule(
            "maintenance.compact_orphans",
            Arc::new(maintenance::CompactOrphans {
                db: db.clone(),
                store: doc_store,
            }),
        )?,
    ];
    crons.extend(extra.crons);
    work.start(
        uuid::Uuid::new_v4(),
        j,
        clock,
        Arc::new(SqlJobQueue::new(db.clone())),
        Arc::new(outbox),
        Arc::new(SqlCronStore::new(db.clone())),
        handlers,
        registry.all(),
        crons,
    );
    Ok(())
}

fn build_server(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let settings = state.settings.clone();
    let shutdown_timeout = settings.server.shutdown_timeout_secs;
    let workers = settings.server.workers;
    let metrics = metrics::Metrics::new();
    let state = web::Data::new(state);
    let static_dir = settings.static_files.dir.clone();
    let has_ui = static_dir.join("index.html").is_file();
    if !has_ui {
        tracing::warn!(dir = %static_dir.display(), "web app not built; serving the API only");
    }
    let public_url = state.public_url.clone();
    let make_app = move || -> upgrade::AppFactory {
        let limit = settings.server.body_limit_bytes;
        let origins = settings.server.cors_allowed_origins.clone();
        let mut cors = actix_cors::Cors::default()
            .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
            .allowed_headers([
                actix_web::http::header::AUTHORIZATION,
                actix_web::http::header::CONTENT_TYPE,
            ])
            .expose_headers([middleware::REQUEST_ID, "retry-after"])
            .max_age(3600);
        for o in &origins {
            cors = cors.allowed_origin(o);
        }
        let api = web::scope("/api")
            .configure(auth::handlers::routes)
            .configure(workspaces::routes)
            .configure(posts::routes)
            .configure(versions::routes)
            .configure(live::routes)
            .configure(crate::comments::routes)
            .configure(crate::activity::routes)
            .configure(crate::jobs::admin::routes)
            .configure(crate::webhooks::routes)
            .configure(crate::notify::routes)
            .configure(crate::approvals::handlers::routes)
            .route(
                "/events/catalogue",
                web::get().to(crate::events::catalogue::serve_catalogue),
            )
            .route("/openapi.json", web::get().to(openapi::openapi_json))
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::NotFound("route"))
            }));
        let app = App::new()
            .app_data(state.clone())
            .app_data(web::Data::new(metrics.clone()))
            .app_data(extractors::json_config(limit))
            .app_data(web::PayloadConfig::new(limit))
            .app_data(extractors::path_config())
            .app_data(extractors::query_config())
            // Innermost: text the database cannot store is refused before any handler.
            .wrap(from_fn(crate::http::input::refuse_nul))
            // Sees what routing answered (CORS preflights never get here).
            .wrap(from_fn(crate::http::methods::method_not_allowed))
            .wrap(Condition::new(!origins.is_empty(), cors))
            .wrap(middleware::security_headers(
                settings.server.behind_tls,
                &public_url,
            ))
            .wrap(from_fn(metrics::track))
            .wrap(from_fn(middleware::request_id))
            // Outermost: a request cut off by the shutdown timeout is dropped inside the
            // worker's runtime (see `crate::rt`).
            .wrap(from_fn(crate::rt::entered))
            .route("/health", web::get().to(health::health))
            .route("/health/live", web::get().to(health::live))
            .route("/health/ready", web::get().to(health::ready))
            .route("/metrics", web::get().to(metrics::metrics))
            .service(api);
        let app = if has_ui {
            app.service(static_files::service(static_dir.clone()))
        } else {
            app.route("/", web::get().to(static_files::not_built))
        };
        upgrade::boxed(actix_service::map_config(
            app.into_factory()
                .map(|r| actix_http::Response::from(r.map_into_boxed_body()))
                .map_err(|e: actix_web::Error| actix_http::Response::from(e.error_response())),
            |_: ()| actix_web::dev::AppConfig::default(),
        ))
    };
    let addr = listener.local_addr()?;
    let mut server = Server::build()
        .listen("copydesk-http", listener, move || {
            HttpService::build()
                // Small frames (one edit, one awareness change) go out at once: without
                // TCP_NODELAY a writer's next update waits for the delayed ACK of its last
                // (~40 ms on Linux).
                .tcp_nodelay(true)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                // Requests that ask for an upgrade go through the same app, and a socket it
                // accepts takes the connection's stream (`crate::http::upgrade`).
                .upgrade(upgrade::factory(make_app.clone()))
                .finish(make_app())
                .tcp()
        })?
        .shutdown_timeout(shutdown_timeout)
        .disable_signals();
    if let Some(w) = workers {
        server = server.workers(w);
    }
    Ok(server.run())
}
