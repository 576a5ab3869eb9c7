use std::process::ExitCode;

use clap::Parser;
use tollgate::server::cli::{self, Cli, Command, EXIT_BAD_SETTINGS};
use tollgate::server::infra::config::Config;
use tollgate::server::infra::telemetry;

fn main() -> ExitCode {
    // `.env` fills in variables the environment does not already set.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("tollgate: .env: {}", e.to_string().split_whitespace().collect::<Vec<_>>().join(" "));
        return ExitCode::from(EXIT_BAD_SETTINGS);
    }
    let args = Cli::parse();
    let runtime = || tokio::runtime::Builder::new_multi_thread().enable_all().build();
    // Client commands talk to a server and need none of its settings.
    if let Some(command) = args.command.clone().filter(Command::is_client) {
        return match runtime() {
            Ok(rt) => rt.block_on(cli::run_client(command)),
            Err(e) => {
                eprintln!("tollgate: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(args.config.as_deref(), &|key| std::env::var(key).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(EXIT_BAD_SETTINGS);
        }
    };
    telemetry::init(config.log_format, &config.log_level);
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(cli::run(args.command.unwrap_or(Command::Serve), config, tollgate::ui::app::web_app()))
}
