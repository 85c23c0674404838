//! `mqbroker`: starts a broker with the Java startup flags (`-c broker.conf`, `-n namesrv`,
//! `-p` to print the effective config). With no nameserver configured anywhere (flag, config
//! key, NAMESRV_ADDR), it also starts an embedded nameserver on 127.0.0.1:9876 and registers
//! with it: a working single-node cluster from one command.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "mqbroker", about = "RocketMQ-compatible broker")]
struct Args {
    /// Broker config properties file
    #[arg(short = 'c', long = "configFile")]
    config_file: Option<std::path::PathBuf>,
    /// Name server address list, e.g. '192.168.0.1:9876;192.168.0.2:9876'
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv_addr: Option<String>,
    /// Print all config items and exit
    #[arg(short = 'p', long = "printConfigItem")]
    print: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut props = match &args.config_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => remoting::properties::parse(&text),
            Err(e) => {
                eprintln!("cannot read config file {}: {e}", path.display());
                return ExitCode::from(255);
            }
        },
        None => Default::default(),
    };
    if let Some(n) = &args.namesrv_addr {
        props.insert("namesrvAddr".to_string(), n.clone());
    }
    let (mut config, unknown) = match broker::BrokerConfig::from_properties(props) {
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
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    config.config_file = config.persist_path(args.config_file.as_deref(), home.as_deref());
    for key in unknown {
        tracing::warn!(%key, "unknown config key (kept, but nothing reads it)");
    }
    if args.print {
        print!("{}", config.props.to_text());
        return ExitCode::SUCCESS;
    }
    let embedded = config.props.string("namesrvAddr").trim().is_empty();
    if embedded {
        config.props.set("namesrvAddr", "127.0.0.1:9876");
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
        let namesrv = if embedded {
            match namesrv::start(namesrv::NamesrvConfig::default()).await {
                Ok(h) => {
                    println!("embedded name server listening on {}", h.local_addr());
                    Some(h)
                }
                Err(e) => {
                    eprintln!("cannot start the embedded name server on 9876: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            None
        };
        let handle = match broker::start(config).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("cannot start broker: {e}");
                return ExitCode::from(1);
            }
        };
        let s = &handle.broker.settings;
        println!(
            "The broker[{}, {}] boot success. serializeType=JSON and name server is {}",
            s.broker_name,
            s.broker_addr(),
            s.namesrv_addrs.join(";")
        );
        namesrv::wait_for_shutdown_signal().await;
        tracing::info!("shutting down");
        handle.shutdown().await;
        if let Some(ns) = namesrv {
            ns.shutdown().await;
        }
        ExitCode::SUCCESS
    })
}
