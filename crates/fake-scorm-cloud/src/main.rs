//! `coursebridge-fake-scorm-cloud`: the fake SCORM Cloud as a process, to try
//! the SCORM flows by hand without an account (see the README).

use std::net::SocketAddr;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "coursebridge-fake-scorm-cloud",
    about = "A fake SCORM Cloud (API V1 and V2) on loopback (for try-outs and tests)"
)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    #[arg(long, default_value = "demo-app")]
    app_id: String,
    /// The application's secret key (read from the environment in real use).
    #[arg(long, default_value = "demo-secret")]
    secret: String,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coursebridge-fake-scorm-cloud: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    rt.block_on(async {
        let fake =
            match fake_scorm_cloud::FakeScormCloud::start_on(cli.listen, &cli.app_id, &cli.secret)
                .await
            {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("coursebridge-fake-scorm-cloud: {}: {e}", cli.listen);
                    return std::process::ExitCode::from(1);
                }
            };
        println!("fake SCORM Cloud API at {}", fake.api_url());
        println!("fake SCORM Cloud API V2 at {}", fake.api_v2_url());
        println!(
            "simulate a learner: curl -X POST 'http://{}/_fake/progress?regid=REG&complete=complete&success=passed&score=90&totaltime=600'",
            fake.addr()
        );
        let _ = tokio::signal::ctrl_c().await;
        std::process::ExitCode::SUCCESS
    })
}
