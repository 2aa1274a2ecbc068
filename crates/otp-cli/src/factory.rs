//! stub
#[derive(Debug, clap::Args)]
pub(crate) struct FactoryArgs {}
pub(crate) fn run(_: &FactoryArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
