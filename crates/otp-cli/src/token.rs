//! stub
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TokenCommand {
    X,
}
pub(crate) fn run(_: TokenCommand) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
