//! Arguments of `aios worker` and `aios workers`.

use clap::Args;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// How many runs to drive at once
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub concurrency: u32,
    /// This worker's tags, comma-separated: it also claims runs whose steps need
    /// them (`runs_on`)
    #[arg(long, value_name = "TAG,...", default_value = "")]
    pub tags: String,
    /// How long a claim lasts without a heartbeat (renewed every third of it); a
    /// killed worker's runs are taken over after it
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub lease: String,
    /// How long to wait before looking again when nothing is claimable
    #[arg(long, default_value = "200ms", value_name = "DURATION")]
    pub poll: String,
    /// Exit when nothing is claimable and no run is in flight
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Print one JSON object per run driven on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WorkersArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}
