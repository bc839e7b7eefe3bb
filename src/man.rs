//! Man pages generated from the clap definitions: `man/knob.1` and one page
//! per subcommand (`man/knob-ask.1`, ...). A test keeps the committed pages
//! current; `KNOB_UPDATE_MAN=1 cargo test man_pages` rewrites them.
use clap::CommandFactory;

use crate::cli::Cli;

/// (file name, roff text) for knob and every subcommand, nested ones included.
pub fn render_all() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    let mut cmd = Cli::command();
    // Built, so that every subcommand's page lists the global flags
    // (--platform, --threads, --model, --color, ...) it accepts.
    cmd.build();
    render(&cmd, "knob", &mut pages)?;
    Ok(pages)
}

fn render(
    cmd: &clap::Command,
    name: &str,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    let cmd = cmd
        .clone()
        .name(name.to_string())
        .version(env!("CARGO_PKG_VERSION"));
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut roff)?;
    pages.push((format!("{name}.1"), roff));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        render(sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn man_pages_are_current() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
        let pages = render_all().unwrap();
        if std::env::var_os("KNOB_UPDATE_MAN").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "1") {
                    std::fs::remove_file(path).unwrap();
                }
            }
            for (name, roff) in &pages {
                std::fs::write(dir.join(name), roff).unwrap();
            }
        }
        let mut stale = Vec::new();
        for (name, roff) in &pages {
            if std::fs::read(dir.join(name)).ok().as_ref() != Some(roff) {
                stale.push(name.clone());
            }
        }
        let committed: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        let extra: Vec<_> = committed
            .iter()
            .filter(|f| f.ends_with(".1") && !pages.iter().any(|(n, _)| n == *f))
            .collect();
        assert!(
            stale.is_empty() && extra.is_empty(),
            "man/ is stale (changed: {stale:?}, no longer generated: {extra:?}); \
             run `KNOB_UPDATE_MAN=1 cargo test man_pages` and commit man/"
        );
    }

    #[test]
    fn completions_generate_for_every_shell() {
        use clap::ValueEnum;
        for shell in clap_complete::Shell::value_variants() {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "knob", &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.contains("knob"),
                "{shell:?} completion does not mention knob"
            );
            assert!(
                text.contains("completions"),
                "{shell:?} completion lacks subcommands"
            );
        }
    }
}
