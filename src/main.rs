//! The `excursobot` binary. Without a subcommand it runs the bot: read settings, set up logs,
//! run until SIGTERM or Ctrl-C. `excursobot migrate` only applies the database migrations (a
//! pre-deploy step); `excursobot simulate` runs the bot against local simulators and prints
//! what it measured.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use excursobot::{
    config::{LogFormat, Settings},
    simulate::{self, SimulateArgs},
    startup::{self, Application},
    telemetry::{self, traces::Traces},
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
    /// Apply the database migrations (`DATABASE_URL`) and exit, e.g. as a pre-deploy step.
    Migrate,
    /// Run the bot against local simulators of Telegram, the LLM and Wikipedia and print
    /// what it measured (no token, no network beyond 127.0.0.1).
    Simulate(SimulateArgs),
}

fn main() -> ExitCode {
    excursobot::allocator::tune();
    match Cli::parse().command {
        None => serve(false),
        Some(Command::Migrate) => serve(true),
        Some(Command::Simulate(args)) => run_simulation(args),
    }
}

/// Runs the bot, or with `migrate_only` just applies the migrations.
fn serve(migrate_only: bool) -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    excursobot::install_tls_provider();
    let traces = match Traces::start(&settings.traces) {
        Ok(traces) => traces,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format, &settings.log_filter, &traces);
    let system = actix_web::rt::System::new();
    let outcome = if migrate_only {
        system.block_on(startup::migrate(settings))
    } else {
        system.block_on(run(settings))
    };
    // After the application stopped and its runtime is gone: the exporter's client blocks.
    traces.shutdown();
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
    application
        .run_until_stopped(startup::shutdown_signal())
        .await
}

/// Logs only warnings unless `RUST_LOG` says otherwise, so the report stays readable.
fn run_simulation(args: SimulateArgs) -> ExitCode {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    telemetry::init(LogFormat::Pretty, &filter, &Traces::off());
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
