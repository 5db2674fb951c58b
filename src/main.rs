//! The `excursobot` binary. Without a subcommand it runs the bot: read settings, set up logs,
//! run until SIGTERM or Ctrl-C. `excursobot simulate` runs it against local simulators and
//! prints what it measured.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use excursobot::{
    config::{LogFormat, Settings},
    simulate::{self, SimulateArgs},
    startup::Application,
    telemetry,
};

/// A Telegram bot that tells short, true stories about real places near you.
#[derive(Debug, Parser)]
#[command(name = "excursobot", version)]
struct Cli {
    /// Without a subcommand the bot runs, configured by environment variables.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bot against local simulators of Telegram, the LLM and Wikipedia and print
    /// what it measured (no token, no network beyond 127.0.0.1).
    Simulate(SimulateArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        None => serve(),
        Some(Command::Simulate(args)) => run_simulation(args),
    }
}

fn serve() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format, &settings.log_filter);
    excursobot::install_tls_provider();
    match actix_web::rt::System::new().block_on(run(settings)) {
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

/// Logs only warnings unless `RUST_LOG` says otherwise, so the report stays readable.
fn run_simulation(args: SimulateArgs) -> ExitCode {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    telemetry::init(LogFormat::Pretty, &filter);
    match actix_web::rt::System::new().block_on(simulate::run(args)) {
        Ok(outcome) => {
            println!("{outcome}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("simulation failed: {error:#}");
            ExitCode::FAILURE
        }
    }
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
