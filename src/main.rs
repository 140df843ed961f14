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
        Command::Migrate => {
            let settings = load_settings();
            copydesk::telemetry::init(&settings.log);
            let db = copydesk::store::connect(&settings).await?;
            copydesk::store::migrate(&db).await?;
            tracing::info!("migrations applied");
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
            tokio::spawn(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                tracing::info!(
                    "shutting down: flushing live documents, finishing in-flight requests"
                );
                collab.shutdown().await;
                handle.stop(true).await;
            });
            app.run_until_stopped().await?;
            tracing::info!("stopped");
        }
    }
    Ok(())
}
