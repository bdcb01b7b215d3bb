//! The Dockerfile at the repository root, read as Docker reads it (instructions, line continuations,
//! stages), and the facts the production path relies on: the pinned toolchain, the production build of the
//! service (no embedded default), shell-less run stages with a numeric non-root user, and binaries that are
//! really build outputs.

use std::collections::BTreeSet;

use test_support::repo_root;

/// One instruction: its keyword (upper-case), flags (`--from=build`) and the rest of the line.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub keyword: String,
    pub flags: Vec<String>,
    pub args: String,
}

/// A build stage: `FROM <image> [AS <name>]` and what follows it.
#[derive(Debug, Clone)]
pub struct Stage {
    pub image: String,
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    pub fn all(&self, keyword: &str) -> impl Iterator<Item = &Instruction> {
        self.instructions.iter().filter(move |i| i.keyword == keyword)
    }

    /// `COPY --from=<stage> <src> <dest>` as (stage, src, dest).
    pub fn copies_from(&self) -> Vec<(String, String, String)> {
        self.all("COPY")
            .filter_map(|i| {
                let from = i.flags.iter().find_map(|f| f.strip_prefix("--from="))?;
                let parts: Vec<&str> = i.args.split_whitespace().collect();
                let [src, dest] = parts.as_slice() else { return None };
                Some((from.to_owned(), (*src).to_owned(), (*dest).to_owned()))
            })
            .collect()
    }

    /// The exec-form ENTRYPOINT (a JSON array), if any.
    pub fn entrypoint(&self) -> Option<Vec<String>> {
        self.all("ENTRYPOINT")
            .last()
            .map(|i| serde_json::from_str(&i.args).expect("ENTRYPOINT in exec form (a JSON array)"))
    }
}

/// Parses Dockerfile text: `#` comment lines (and parser directives) are skipped, a trailing `\` joins the
/// next line, keywords are case-insensitive.
pub fn parse(text: &str) -> Vec<Stage> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if trimmed.starts_with('#') {
            continue; // a comment inside a continued instruction
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(current.is_empty(), "the Dockerfile ends inside a continued line");
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical {
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line.as_str(), ""));
        let keyword = keyword.to_ascii_uppercase();
        let mut rest = rest.trim();
        let mut flags = Vec::new();
        while let Some(after) = rest.strip_prefix("--") {
            let (flag, tail) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
            flags.push(format!("--{flag}"));
            rest = tail.trim_start();
        }
        if keyword == "FROM" {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, r#as, name] if r#as.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                [_] => None,
                other => panic!("unexpected FROM line: {other:?}"),
            };
            stages.push(Stage {
                image: words[0].to_owned(),
                name,
                instructions: Vec::new(),
            });
        } else {
            let stage = stages.last_mut().expect("an instruction before the first FROM");
            stage.instructions.push(Instruction {
                keyword,
                flags,
                args: rest.to_owned(),
            });
        }
    }
    stages
}

/// The repository's Dockerfile.
pub fn stages() -> Vec<Stage> {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile at the repository root");
    parse(&text)
}

/// The stage called `name`.
pub fn stage<'a>(stages: &'a [Stage], name: &str) -> &'a Stage {
    stages
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("the Dockerfile has no stage {name:?}"))
}

/// The toolchain rust-toolchain.toml pins (`channel`).
fn pinned_toolchain() -> String {
    let text = std::fs::read_to_string(repo_root().join("rust-toolchain.toml")).unwrap();
    let value: toml::Table = toml::from_str(&text).unwrap();
    value["toolchain"]["channel"].as_str().unwrap().to_owned()
}

/// The `[[bin]]` names of a workspace crate.
fn binaries(krate: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let value: toml::Table = toml::from_str(&text).unwrap();
    value["bin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The `cargo build` commands of a RUN instruction, each as its words.
fn cargo_builds(stage: &Stage) -> Vec<Vec<String>> {
    stage
        .all("RUN")
        .flat_map(|i| i.args.split("&&").map(str::trim).map(str::to_owned).collect::<Vec<_>>())
        .filter(|c| c.starts_with("cargo build"))
        .map(|c| c.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// What the build stage compiles: (package, built without default features), from its `cargo build` lines.
fn built_packages(stage: &Stage) -> Vec<(String, bool)> {
    cargo_builds(stage)
        .iter()
        .map(|words| {
            assert!(
                words.contains(&"--release".to_owned()) && words.contains(&"--locked".to_owned()),
                "{words:?}: release builds of the locked dependency set"
            );
            let package = words
                .iter()
                .position(|w| w == "-p")
                .map(|i| words[i + 1].clone())
                .unwrap_or_else(|| panic!("{words:?} names no package"));
            (package, words.contains(&"--no-default-features".to_owned()))
        })
        .collect()
}

#[test]
fn the_build_stage_uses_the_pinned_toolchain_and_builds_the_production_service() {
    let stages = stages();
    let build = stage(&stages, "build");
    let pinned = pinned_toolchain();
    let tag = build
        .image
        .strip_prefix("rust:")
        .expect("the build stage is the official rust image");
    let version = tag.split('-').next().unwrap();
    assert_eq!(version, pinned, "the image's toolchain is rust-toolchain.toml's");
    let built = built_packages(build);
    assert!(
        built.contains(&("client_api".to_owned(), true)),
        "the service is built with --no-default-features (no embedded launcher): {built:?}"
    );
    assert!(built.iter().any(|(p, _)| p == "pccdb"), "{built:?}");
}

#[test]
fn run_stages_are_shell_less_numeric_non_root_and_copy_only_build_outputs() {
    let stages = stages();
    let build = stage(&stages, "build");
    let outputs: BTreeSet<String> = built_packages(build)
        .iter()
        .flat_map(|(package, _)| binaries(package))
        .map(|bin| format!("/src/target/release/{bin}"))
        .collect();
    let workdir = build.all("WORKDIR").last().map(|i| i.args.clone());
    assert_eq!(workdir.as_deref(), Some("/src"), "the copies below name /src/target");
    for name in ["pcc-client-api", "pccdb"] {
        let run = stage(&stages, name);
        assert!(
            run.image.starts_with("gcr.io/distroless/"),
            "{name}: a small base without a shell ({})",
            run.image
        );
        assert_eq!(
            run.all("RUN").count(),
            0,
            "{name}: a distroless stage cannot RUN (no shell)"
        );
        let user = run.all("USER").last().map(|i| i.args.clone()).expect("USER");
        let ids: Vec<u32> = user
            .split(':')
            .map(|id| {
                id.parse()
                    .unwrap_or_else(|_| panic!("{name}: USER {user} is not numeric"))
            })
            .collect();
        assert!(ids.iter().all(|id| *id != 0), "{name}: USER {user} is root");
        let copies = run.copies_from();
        assert!(!copies.is_empty(), "{name} copies its binary from the build stage");
        for (from, src, _) in &copies {
            assert_eq!(from, "build");
            assert!(
                outputs.contains(src),
                "{name}: {src} is not a binary the build stage builds ({outputs:?})"
            );
        }
        let entrypoint = run.entrypoint().expect("ENTRYPOINT");
        assert!(
            copies
                .iter()
                .any(|(_, src, dest)| *dest == entrypoint[0] && src.ends_with(&format!("/{name}"))),
            "{name}: ENTRYPOINT {entrypoint:?} is the binary copied in"
        );
    }
}

#[test]
fn the_parser_reads_continuations_flags_and_stage_names() {
    let stages = parse(
        "# syntax=docker/dockerfile:1\nFROM rust:1 AS build\nRUN a \\\n  # note\n  && b\nfrom scratch as run\n\
         COPY --from=build /x /y\nUSER 1:2\n",
    );
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].instructions[0].args, "a  && b");
    assert_eq!(stages[1].name.as_deref(), Some("run"));
    assert_eq!(
        stages[1].copies_from(),
        vec![("build".to_owned(), "/x".to_owned(), "/y".to_owned())]
    );
}
