//! stub
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {}
pub(crate) fn run(_: &BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
