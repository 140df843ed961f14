//! The `copydesk` command line. Thin by design: everything lives in the library.

use clap::{Parser, Subcommand};
use copydesk::config::Settings;
use copydesk::startup::Application;

#[derive(Parser)]
#[command(
    name = "copydesk",
    version,
    about = "Collaboration server for social-media content teams"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default). Migrations run first.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Instance administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Web Push.
    Push {
        #[command(subcommand)]
        command: PushCommand,
    },
}

#[derive(Subcommand)]
enum PushCommand {
    /// Generates a VAPID key pair and prints the configuration lines that use it (the same
    /// key on every node keeps browsers' subscriptions valid).
    VapidKeys,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Creates a super admin (or promotes an existing account). The password is read from
    /// COPYDESK_ADMIN_PASSWORD, or from the first line of standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

fn load_settings() -> Settings {
    match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("copydesk: {e}");
            std::process::exit(2);
        }
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            use utoipa::OpenApi;
            println!(
                "{}",
                copydesk::http::openapi::ApiDoc::openapi().to_pretty_json()?
            );
        }
        Command::Push {
            command: PushCommand::VapidKeys,
        } => {
            let k = copydesk::notify::push::vapid::VapidKey::generate();
            println!("# Web Push (VAPID) key pair. In config/<env>.toml:");
            println!("[push]");
            println!("vapid_private_key = \"{}\"", k.private_b64());
            println!("subject = \"mailto:you@example.com\"");
            println!("# or in the environment:");
            println!("# COPYDESK__PUSH__VAPID_PRIVATE_KEY={}", k.private_b64());
            println!(
                "# public key (served at /api/push/vapid-public-key): {}",
                k.public_b64
            );
        }
        Command::Migrate => {
            let settings = load_settings();
            copydesk::telemetry::init(&settings.log);
            let db = copydesk::store::connect(&settings).await?;
            copydesk::store::migrate(&db).await?;
            tracing::info!("migrations applied");
        }
        Command::Admin {
            command: AdminCommand::Create { email, name },
        } => {
            let settings = load_settings();
            copydesk::telemetry::init(&settings.log);
            let password = match std::env::var("COPYDESK_ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    eprintln!("Password for {email} (one line on standard input):");
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let db = copydesk::store::connect(&settings).await?;
            copydesk::store::migrate(&db).await?;
            match copydesk::setup::create_super_admin(&db, &email, &name, &password).await {
                Ok(id) => println!("super admin {email} ready (user id {id})"),
                Err(e) => {
                    eprintln!("copydesk: {e}");
                    std::process::exit(2);
                }
            }
        }
        Command::Serve => {
            let settings = load_settings();
            copydesk::telemetry::init(&settings.log);
            // Listen for SIGTERM before anything else, so a stop that arrives during
            // start-up is still graceful.
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let app = match Application::build(settings).await {
                Ok(app) => app,
                Err(e) => {
                    tracing::error!(error = %e, "could not start");
                    eprintln!("copydesk: {e}");
                    std::process::exit(1);
                }
            };
            let handle = app.handle();
            let collab = app.collab();
            let deadline =
                std::time::Duration::from_secs(app.state().settings.server.shutdown_timeout_secs);
            tokio::spawn(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                tracing::info!(
                    "shutting down: flushing live documents, finishing in-flight requests"
                );
                collab.shutdown(deadline).await;
                // In-flight requests get the same deadline (actix's shutdown_timeout).
                handle.stop(true).await;
            });
            app.run_until_stopped().await?;
            tracing::info!("stopped");
        }
    }
    Ok(())
}
