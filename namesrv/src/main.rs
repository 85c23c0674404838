//! `mqnamesrv`: starts a nameserver with the Java startup flags (`-c namesrv.properties`,
//! `-p` to print the effective config and exit).

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "mqnamesrv", about = "RocketMQ-compatible nameserver")]
struct Args {
    /// Name server config properties file
    #[arg(short = 'c', long = "configFile")]
    config_file: Option<std::path::PathBuf>,
    /// Print all config items and exit
    #[arg(short = 'p', long = "printConfigItem")]
    print: bool,
    /// Name server address list (accepted for compatibility; unused by a nameserver)
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv_addr: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let props = match &args.config_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => remoting::properties::parse(&text),
            Err(e) => {
                eprintln!("cannot read config file {}: {e}", path.display());
                return ExitCode::from(255);
            }
        },
        None => Default::default(),
    };
    let (mut config, unknown) = match namesrv::NamesrvConfig::from_properties(props) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(255);
        }
    };
    if let Err(e) = namesrv::logging::init(&config.props.string(namesrv::logging::LOG_LEVEL_KEY)) {
        eprintln!("{e}");
        return ExitCode::from(255);
    }
    if let Some(path) = &args.config_file {
        tracing::info!(path = %path.display(), "load config properties file OK");
    }
    for key in unknown.into_iter().filter(|k| !k.starts_with("metrics")) {
        tracing::warn!(%key, "unknown config key (kept, but nothing reads it)");
    }
    // As Java's NamesrvStartup: the config file given with -c is where updates are persisted.
    if let Some(path) = &args.config_file {
        config
            .props
            .set("configStorePath", path.display().to_string());
    }
    if args.print {
        print!("{}", config.props.to_text());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let handle = match namesrv::start(config).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("cannot start nameserver: {e}");
                return ExitCode::from(1);
            }
        };
        println!(
            "The Name Server boot success. serializeType=JSON, address {}",
            handle.local_addr()
        );
        namesrv::wait_for_shutdown_signal().await;
        tracing::info!("shutting down");
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}
