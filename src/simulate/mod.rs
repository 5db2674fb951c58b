//! `excursobot simulate`: the real application against local simulators of the Telegram Bot
//! API ([`telegram`]), an OpenAI-compatible API ([`openai`], fixed latency) and the Wikipedia
//! API ([`wikipedia`], a made-up city in [`city`]), all on 127.0.0.1, driven through the
//! webhook by simulated users ([`scenario`], [`walk`]) or by a flood of updates ([`flood`]).
//!
//! It needs no token, no environment and no network beyond 127.0.0.1. Every loop is bounded
//! in count and in time. The report ([`report`]) says what each figure measures; with
//! `--transcript` (or a single user) it also prints one user's chat ([`transcript`]).

pub mod city;
pub mod database;
pub mod exposition;
pub mod flood;
pub mod hostile;
pub mod mutate;
pub mod openai;
pub mod progress;
pub mod report;
mod report_text;
pub mod scenario;
pub mod telegram;
pub mod tour_walk;
pub mod transcript;
pub mod under_test;
pub mod updates;
pub mod walk;
pub mod webhook_client;
pub mod wikipedia;

use std::{fmt, net::TcpListener, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;

use self::{
    database::ScratchDatabase,
    exposition::Exposition,
    flood::{FloodKind, FloodPlan},
    openai::SimOpenAi,
    progress::Progress,
    report::Report,
    scenario::{Plan, Stage},
    telegram::SimTelegram,
    tour_walk::WalkPlan,
    under_test::{BotUnderTest, Deployment, Endpoints, SECRET},
    webhook_client::WebhookClient,
    wikipedia::SimWikipedia,
};

/// The bot's LLM permits (its default; the report's "all permits busy" refers to it).
const LLM_PERMITS: usize = crate::actors::openai_gate::DEFAULT_PERMITS;
/// Flood length when `--duration-secs` is not given.
const DEFAULT_FLOOD_SECS: u64 = 10;
/// Scenario length when `--duration-secs` is not given.
const DEFAULT_SCENARIO_SECS: u64 = 60;
/// Walk length when `--duration-secs` is not given: at the default time scale an hour of
/// tour time, six ticks of the default 10-minute interval.
const DEFAULT_WALK_SECS: u64 = 60;
/// Quiet time after a flood before the bot's memory is read: what it keeps, not what it
/// had in flight.
const SETTLE_AFTER_FLOOD: Duration = Duration::from_secs(5);

/// Which scenario a run plays (without `--flood`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioKind {
    /// Users send /start and a location; some walk a few blocks with a live location.
    Default,
    /// `--walkers` on live tours for the whole run, tours' time compressed by `--time-scale`.
    Walk,
}

/// The scenario and how to run it (`excursobot simulate --help`).
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The scenario: `default`, or `walk` (walkers on live tours, ticks and all).
    #[arg(long, value_enum, default_value_t = ScenarioKind::Default)]
    pub scenario: ScenarioKind,
    /// Walkers of `--scenario walk` (the tours' cap is 50).
    #[arg(long, default_value_t = tour_walk::DEFAULT_WALKERS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub walkers: u32,
    /// `--scenario walk`: tour time per wall time, set on the bot as `TOUR_TIME_SCALE` (60: a
    /// tour minute lasts a second); the simulated LLM's pace is compressed alike.
    #[arg(long, default_value_t = tour_walk::DEFAULT_TIME_SCALE, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub time_scale: u32,
    /// Run the bot with `LLM_WRITE_AHEAD=false` (idle LLM permits write nothing ahead), to
    /// compare with the default.
    #[arg(long)]
    pub no_write_ahead: bool,
    /// Simulated users; each sends /start, then a location.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub users: u32,
    /// Share of the users who share a live location and walk (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    pub tour_share: f64,
    /// Live-location edits per walking user (a stop edit follows them).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub edits: u32,
    /// How long the simulated LLM takes to its first token, in milliseconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(0..=120_000))]
    pub llm_first_token_ms: u64,
    /// How fast the simulated LLM writes after its first token (a word is 4/3 of a token):
    /// the default and 600 ms make ~4.5 s for a first story, ~8 s for "Tell me more".
    #[arg(long, default_value_t = 25.0)]
    pub llm_tokens_per_sec: f64,
    /// Length of the run in seconds [default: 60, or 10 with --flood].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration_secs: Option<u64>,
    /// Instead of the scenario, send as many updates as the bot acknowledges.
    #[arg(long, value_enum)]
    pub flood: Option<FloodKind>,
    /// Print the first user's chat (always printed with --users 1).
    #[arg(long)]
    pub transcript: bool,
    /// Keep-alive webhook connections of the flood.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub connections: u64,
    /// Load-generator threads of the flood.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    pub client_threads: u64,
    /// The bot's HTTP worker threads [default: its own, one per core].
    #[arg(long)]
    pub http_workers: Option<usize>,
    /// Lift Telegram's send limits, in the bot and in the simulated Telegram alike (by default
    /// both keep the production limits: 30 messages a second, about one a second per chat).
    #[arg(long)]
    pub lift_send_limits: bool,
    /// Use this Redis (`REDIS_URL`, under a key prefix of the run's own), as deployed.
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Use a fresh database on this PostgreSQL server (created before the run, dropped
    /// after it), as deployed [default: a scratch SQLite file].
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// Run the bot as the real binary in a child process, to measure its memory and CPU
    /// without the simulators and the load generator.
    #[arg(long)]
    pub bot_process: bool,
    /// Point the bot at a Wikipedia that refuses connections, so every location is answered
    /// from the offline gazetteer (to measure what the gazetteer costs).
    #[arg(long)]
    pub wikipedia_down: bool,
    /// Seed of the simulated city walk (same seed, same walk).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The binary `--bot-process` starts [default: this very executable]; e.g. another
    /// build to compare, or a wrapper script that runs it under a profiler.
    #[arg(long, requires = "bot_process")]
    pub bot_binary: Option<PathBuf>,
}

impl SimulateArgs {
    /// How fast the simulated LLM writes: in the walk scenario compressed by the tours' time
    /// scale, so a story takes the same share of a tour's interval as in real time.
    pub fn llm_pace(&self) -> openai::LlmPace {
        let scale = self.tour_time_scale();
        openai::LlmPace {
            first_token: Duration::from_millis(self.llm_first_token_ms) / scale,
            tokens_per_sec: self.llm_tokens_per_sec * f64::from(scale),
        }
    }

    /// The bot's `TOUR_TIME_SCALE`: `--time-scale` in the walk scenario, else 1.
    pub fn tour_time_scale(&self) -> u32 {
        match (self.scenario, self.flood) {
            (ScenarioKind::Walk, None) => self.time_scale.max(1),
            _ => 1,
        }
    }
}

/// What a run prints: the transcript when asked for, then the report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The first user's chat.
    pub transcript: Option<String>,
    /// The figures.
    pub report: Report,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(transcript) = &self.transcript {
            writeln!(f, "{transcript}")?;
        }
        write!(f, "{}", self.report)
    }
}

/// The three simulators.
struct Simulators {
    telegram: Arc<SimTelegram>,
    openai: SimOpenAi,
    wikipedia: SimWikipedia,
}

impl Simulators {
    fn start(args: &SimulateArgs) -> anyhow::Result<Self> {
        Ok(Self {
            telegram: Arc::new(
                SimTelegram::start(1, args.lift_send_limits).context("simulated Telegram")?,
            ),
            openai: SimOpenAi::start(args.llm_pace()).context("simulated OpenAI")?,
            wikipedia: SimWikipedia::start().context("simulated Wikipedia")?,
        })
    }

    fn endpoints(&self) -> Endpoints<'_> {
        Endpoints {
            telegram: &self.telegram,
            openai: &self.openai,
            wikipedia: &self.wikipedia,
        }
    }

    /// A stage for users talking to `bot` through these simulators for `duration`.
    fn stage(&self, bot: &BotUnderTest, duration: Duration) -> Stage {
        Stage::new(
            WebhookClient::new(bot.addr(), SECRET),
            Arc::clone(&self.telegram),
            Arc::clone(self.openai.ledger()),
            LLM_PERMITS,
            duration,
        )
    }

    async fn stop(&self) {
        self.telegram.stop().await;
        self.openai.stop().await;
        self.wikipedia.stop().await;
    }
}

/// Runs the simulation `args` describe; call inside an actix system.
pub async fn run(args: SimulateArgs) -> anyhow::Result<Outcome> {
    crate::install_tls_provider();
    let simulators = Simulators::start(&args)?;
    let database = match &args.postgres_url {
        Some(server) => Some(ScratchDatabase::create(server).await?),
        None => None,
    };
    let deployment = Deployment {
        lift_send_limits: args.lift_send_limits,
        redis_url: args.redis_url.clone(),
        database_url: database.as_ref().map(|database| database.url.clone()),
        http_workers: args.http_workers,
    };
    let mut vars = under_test::variables(&simulators.endpoints(), &deployment);
    if args.tour_time_scale() > 1 {
        let scale = args.tour_time_scale().to_string();
        vars.insert("TOUR_TIME_SCALE".to_owned(), scale);
    }
    if args.no_write_ahead {
        vars.insert("LLM_WRITE_AHEAD".to_owned(), "false".to_owned());
    }
    if args.wikipedia_down {
        vars.insert(
            "WIKIPEDIA_API_URL".to_owned(),
            under_test::unreachable_url()?,
        );
    }
    let bot = if args.bot_process {
        let binary = match &args.bot_binary {
            Some(binary) => binary.clone(),
            None => std::env::current_exe().context("finding this executable")?,
        };
        BotUnderTest::child(&binary, &vars).await?
    } else {
        BotUnderTest::in_process(&vars).await?
    };
    let outcome = drive(&args, &simulators, &bot).await;
    let metrics = Exposition::scrape(&reqwest::Client::new(), bot.metrics_addr()).await;
    let process = bot.figures();
    let stopped = bot.stop().await;
    simulators.stop().await;
    if let Some(database) = database {
        database.drop_it().await;
    }
    stopped.context("stopping the bot")?;
    let (transcript, mut report) = outcome;
    let ledger = simulators.openai.ledger();
    if let Some(walk) = report.walk.as_mut() {
        walk.wasted_calls = ledger.calls_untold(|title| walk.told.contains(title));
    }
    if let Some(scenario) = report.scenario.as_mut() {
        scenario.wasted_calls = ledger.calls_untold(|title| scenario.told.contains(title));
    }
    report.process = process;
    report.metrics = metrics;
    report.llm = simulators.openai.ledger().figures();
    report.telegram = simulators.telegram.ledger();
    Ok(Outcome { transcript, report })
}

/// Plays the scenario or the flood against a running bot.
async fn drive(
    args: &SimulateArgs,
    simulators: &Simulators,
    bot: &BotUnderTest,
) -> (Option<String>, Report) {
    let mut report = Report {
        title: title(args),
        scenario: None,
        walk: None,
        flood: None,
        llm: simulators.openai.ledger().figures(),
        telegram: simulators.telegram.ledger(),
        permits: LLM_PERMITS,
        process: None,
        metrics: None,
        rss_before_kib: bot.figures().map(|figures| figures.rss_kib),
    };
    if let Some(kind) = args.flood {
        let plan = FloodPlan {
            kind,
            connections: usize::try_from(args.connections).unwrap_or(1),
            threads: usize::try_from(args.client_threads).unwrap_or(1),
            duration: Duration::from_secs(args.duration_secs.unwrap_or(DEFAULT_FLOOD_SECS)),
        };
        let progress = Progress::start(progress::Plan {
            metrics: bot.metrics_addr(),
            arrivals: Vec::new(),
            duration: plan.duration,
        });
        report.flood = Some(flood::run(plan, bot.addr(), SECRET, &simulators.telegram).await);
        tokio::time::sleep(SETTLE_AFTER_FLOOD).await;
        if let Some(progress) = progress {
            progress.finish().await;
        }
        return (None, report);
    }
    if args.scenario == ScenarioKind::Walk {
        report.walk = Some(drive_walk(args, simulators, bot).await);
        return (None, report);
    }
    let plan = Plan {
        users: args.users,
        tour_share: args.tour_share,
        edits: args.edits,
        duration: Duration::from_secs(args.duration_secs.unwrap_or(DEFAULT_SCENARIO_SECS)),
        seed: args.seed,
    };
    let stage = simulators.stage(bot, plan.duration);
    let walkers = scenario::walkers(&plan);
    let progress = Progress::start(progress::Plan {
        metrics: bot.metrics_addr(),
        arrivals: walkers.iter().map(|walker| walker.arrival).collect(),
        duration: plan.duration,
    });
    let (figures, transcripts) = walk::run(&stage, &walkers).await;
    if let Some(progress) = progress {
        progress.finish().await;
    }
    report.scenario = Some(figures);
    let transcript = (args.transcript || args.users == 1)
        .then(|| transcripts.first().map(|lines| transcript::render(lines)))
        .flatten();
    (transcript, report)
}

/// Plays the walk scenario against a running bot.
async fn drive_walk(
    args: &SimulateArgs,
    simulators: &Simulators,
    bot: &BotUnderTest,
) -> report::WalkFigures {
    let plan = WalkPlan {
        walkers: args.walkers,
        scale: args.tour_time_scale(),
        duration: Duration::from_secs(args.duration_secs.unwrap_or(DEFAULT_WALK_SECS)),
        seed: args.seed,
    };
    let stage = simulators.stage(bot, plan.stage_time());
    let progress = Progress::start(progress::Plan {
        metrics: bot.metrics_addr(),
        arrivals: Vec::new(),
        duration: plan.stage_time(),
    });
    let figures = tour_walk::run(&stage, &plan).await;
    if let Some(progress) = progress {
        progress.finish().await;
    }
    figures
}

fn title(args: &SimulateArgs) -> String {
    format!("{}\n{}", run_line(args), deployment_line(args))
}

/// How the bot was deployed: send limits, cache, database.
fn deployment_line(args: &SimulateArgs) -> String {
    let limits = if args.lift_send_limits {
        "LIFTED (bot and simulated Telegram)".to_owned()
    } else {
        format!(
            "production (the bot's defaults; simulated Telegram: {} a second, {} a second per chat, 429 past them)",
            telegram::GLOBAL_PER_SECOND,
            telegram::PER_CHAT_PER_SECOND
        )
    };
    let cache = if args.redis_url.is_some() {
        "Redis"
    } else {
        "in process (no Redis)"
    };
    let database = if args.postgres_url.is_some() {
        "PostgreSQL (a fresh database)"
    } else {
        "SQLite (a scratch file)"
    };
    format!("send limits {limits}; cache {cache}; database {database}")
}

fn run_line(args: &SimulateArgs) -> String {
    let bot = match (args.bot_process, args.wikipedia_down) {
        (true, false) => "bot in a child process",
        (false, false) => "bot in this process",
        (true, true) => "bot in a child process, Wikipedia down",
        (false, true) => "bot in this process, Wikipedia down",
    };
    let workers = args
        .http_workers
        .map_or("one per core".to_owned(), |w| w.to_string());
    let ahead = if args.no_write_ahead {
        ", LLM_WRITE_AHEAD=false"
    } else {
        ""
    };
    if args.flood.is_none() && args.scenario == ScenarioKind::Walk {
        let scale = args.tour_time_scale();
        return format!(
            "excursobot simulate --scenario walk: {} walkers, {} s, TOUR_TIME_SCALE={scale} (a tour minute lasts {:.2} s), LLM first token {} ms then {} tokens/s in tour time ({:.1} ms then {:.0} tokens/s on the clock), {LLM_PERMITS} LLM permits, seed {}, HTTP workers {workers}, {bot}{ahead}",
            args.walkers,
            args.duration_secs.unwrap_or(DEFAULT_WALK_SECS),
            60.0 / f64::from(scale),
            args.llm_first_token_ms,
            args.llm_tokens_per_sec,
            args.llm_first_token_ms as f64 / f64::from(scale),
            args.llm_tokens_per_sec * f64::from(scale),
            args.seed,
        );
    }
    match args.flood {
        Some(kind) => format!(
            "excursobot simulate --flood {}: {} s, {} connections, {} client thread(s), HTTP workers {workers}, {bot}",
            format!("{kind:?}").to_lowercase(),
            args.duration_secs.unwrap_or(DEFAULT_FLOOD_SECS),
            args.connections,
            args.client_threads,
        ),
        None => {
            let tours = (f64::from(args.users) * args.tour_share.clamp(0.0, 1.0)).ceil();
            format!(
                "excursobot simulate: {} user(s) ({tours} on live tours, {} edits each), LLM first token {} ms then {} tokens/s, {LLM_PERMITS} LLM permits, {} s, seed {}, HTTP workers {workers}, {bot}{ahead}",
                args.users,
                args.edits,
                args.llm_first_token_ms,
                args.llm_tokens_per_sec,
                args.duration_secs.unwrap_or(DEFAULT_SCENARIO_SECS),
                args.seed,
            )
        }
    }
}

/// A listener on 127.0.0.1 with a free port, for a simulator.
fn local_listener() -> std::io::Result<(TcpListener, u16)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}
