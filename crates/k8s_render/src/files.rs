//! Writing a render into its directory and comparing a directory with a render (`--check`, and the test
//! that fails CI when the manifest changed without a new render).

use std::path::Path;

use crate::{HEADER, RenderError, Rendered};

/// One way a directory differs from a render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A rendered file is not in the directory.
    Missing(String),
    /// The file's text differs.
    Changed(String),
    /// A file of an earlier render that this one no longer produces.
    Stale(String),
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing(n) => write!(f, "{n}: missing"),
            Difference::Changed(n) => write!(f, "{n}: differs from a fresh render"),
            Difference::Stale(n) => write!(f, "{n}: rendered earlier, no longer produced"),
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RenderError {
    let path = path.to_owned();
    move |source| RenderError::Io { action, path, source }
}

/// Files in `dir` that an earlier render wrote (they start with [`HEADER`]).
fn rendered_before(dir: &Path) -> Result<Vec<String>, RenderError> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir).map_err(io("reading", dir))? {
        let path = entry.map_err(io("reading", dir))?.path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.starts_with(HEADER)
            && let Some(name) = path.file_name().and_then(|n| n.to_str())
        {
            out.push(name.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn write(rendered: &Rendered, dir: &Path) -> Result<(), RenderError> {
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let before = rendered_before(dir)?;
    for file in &rendered.files {
        let path = dir.join(&file.name);
        // Written beside and renamed over, so a reader never sees half a file.
        let temp = dir.join(format!(".{}.tmp", file.name));
        std::fs::write(&temp, &file.text).map_err(io("writing", &temp))?;
        std::fs::rename(&temp, &path).map_err(io("writing", &path))?;
    }
    for stale in before.iter().filter(|n| !rendered.files.iter().any(|f| f.name == **n)) {
        let path = dir.join(stale);
        std::fs::remove_file(&path).map_err(io("removing", &path))?;
    }
    Ok(())
}

pub(crate) fn compare(rendered: &Rendered, dir: &Path) -> Result<Vec<Difference>, RenderError> {
    let mut out = Vec::new();
    for file in &rendered.files {
        let path = dir.join(&file.name);
        match std::fs::read_to_string(&path) {
            Ok(text) if text == file.text => {}
            Ok(_) => out.push(Difference::Changed(file.name.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(Difference::Missing(file.name.clone())),
            Err(e) => return Err(io("reading", &path)(e)),
        }
    }
    for stale in rendered_before(dir)? {
        if !rendered.files.iter().any(|f| f.name == stale) {
            out.push(Difference::Stale(stale));
        }
    }
    Ok(out)
}
