//! The `excursobot` binary: read settings, set up logs, run until SIGTERM or Ctrl-C.
//! `excursobot migrate` only applies the database migrations (for a pre-deploy step).

use std::process::ExitCode;

use excursobot::{config::Settings, startup::Application, telemetry};

fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format, &settings.log_filter);
    excursobot::install_tls_provider();
    let command = std::env::args().nth(1);
    let outcome = match command.as_deref() {
        None => actix_web::rt::System::new().block_on(run(settings)),
        Some("migrate") => actix_web::rt::System::new().block_on(migrate(settings)),
        Some(other) => {
            eprintln!("unknown command {other:?}; expected no command (run the bot) or `migrate`");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("excursobot stopped: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let application = Application::build(settings).await?;
    application.run_until_stopped(shutdown_signal()).await
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    use anyhow::Context;
    use secrecy::ExposeSecret;
    let database = &settings.database;
    let connection = excursobot::db::connect(database.url.expose_secret(), database.pool_max)
        .await
        .context("connecting to the database (DATABASE_URL)")?;
    excursobot::db::migrate(&connection)
        .await
        .context("applying database migrations")?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Completes on SIGTERM (Railway, Docker) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}
