//! The references between the rows of a file and the order they are written in. A row may name its parent by
//! `parent_key` (another row's `key`), `parent_id` (another row's `id`, or else an existing client) or
//! `parent_lei` (another row's LEI, or else a live client's, looked up when the rows are written), in any
//! order within the file. Every row gets its id here (the file's, or a new UUIDv7), so a child can carry its
//! parent's id before either is written; the rows are then grouped by their depth within the file (parents
//! before children, level by level), which is the order the database must see them in.

use std::collections::HashMap;

use uuid::Uuid;

use super::row::{Fields, LineProblem, Row};
use crate::error::ProblemKind;

/// Where a planned row's parent is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// None: the top of a group.
    None,
    /// A client with this id: another row of the file (written at an earlier level) or an existing client.
    Id(Uuid),
    /// A live client with this LEI, not in the file (resolved when written).
    Lei(String),
}

/// A row ready to be written.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Its line in the file.
    pub line: u32,
    /// The new client's id.
    pub id: Uuid,
    /// Its parent.
    pub parent: Parent,
    /// The line of its parent when the parent is a row of the file.
    pub parent_line: Option<u32>,
    /// The column it named its parent in.
    pub reference: Option<&'static str>,
    /// Its fields.
    pub fields: Fields,
}

/// The rows in writing order: `levels[0]` have no parent in the file, `levels[n]` a parent in `levels[n - 1]`.
#[derive(Debug, Default)]
pub struct Plan {
    /// The levels.
    pub levels: Vec<Vec<Planned>>,
    /// Rows that cannot be written (and, for each, why).
    pub problems: Vec<LineProblem>,
}

/// Plans `rows`; `unreadable` are the lines the parser could not read (a child of one cannot be written).
pub fn plan(rows: Vec<Row>, unreadable: &[u32]) -> Plan {
    let mut problems = Vec::new();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id.unwrap_or_else(Uuid::now_v7)).collect();
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    let mut by_id: HashMap<Uuid, usize> = HashMap::new();
    let mut by_lei: HashMap<&str, usize> = HashMap::new();
    let mut dead = vec![false; rows.len()];
    for (at, row) in rows.iter().enumerate() {
        if let Some(key) = row.key.as_deref()
            && let Some(first) = by_key.insert(key, at)
        {
            by_key.insert(key, first);
            problems.push(LineProblem::new(
                row.line,
                Some("key"),
                ProblemKind::Conflict,
                format!("key {key:?} is already the key of line {}", rows[first].line),
            ));
            dead[at] = true;
        }
        if let Some(id) = row.id
            && let Some(first) = by_id.insert(id, at)
        {
            by_id.insert(id, first);
            problems.push(LineProblem::new(
                row.line,
                Some("id"),
                ProblemKind::Conflict,
                format!("id {id} is already the id of line {}", rows[first].line),
            ));
            dead[at] = true;
        }
        // A repeated LEI is the database's to refuse (unique); references go to its first row.
        if let Some(lei) = row.fields.lei.as_deref() {
            by_lei.entry(lei).or_insert(at);
        }
    }

    // The parent of each row: another row (by index), or outside the file.
    let mut parent_row: Vec<Option<usize>> = vec![None; rows.len()];
    let mut outside: Vec<Parent> = vec![Parent::None; rows.len()];
    for (at, row) in rows.iter().enumerate() {
        if let Some(key) = row.parent_key.as_deref() {
            match by_key.get(key) {
                Some(&p) => parent_row[at] = Some(p),
                None => {
                    problems.push(LineProblem::new(
                        row.line,
                        Some("parent_key"),
                        ProblemKind::NotFound,
                        format!("no row of the file has key {key:?}"),
                    ));
                    dead[at] = true;
                }
            }
        } else if let Some(id) = row.parent_id {
            match by_id.get(&id) {
                Some(&p) => parent_row[at] = Some(p),
                None => outside[at] = Parent::Id(id),
            }
        } else if let Some(lei) = row.parent_lei.as_deref() {
            match by_lei.get(lei) {
                Some(&p) => parent_row[at] = Some(p),
                None => outside[at] = Parent::Lei(lei.to_owned()),
            }
        }
        if parent_row[at] == Some(at) {
            problems.push(LineProblem::new(
                row.line,
                row.reference_column(),
                ProblemKind::HierarchyCycle,
                "names itself as its parent",
            ));
            dead[at] = true;
        }
    }

    // Depth within the file, following parents; a cycle marks every row on it, and its descendants get no depth.
    let depth = depths(&parent_row);
    for (at, d) in depth.iter().enumerate() {
        if d.is_none() && !dead[at] && on_cycle(&parent_row, at) {
            problems.push(LineProblem::new(
                rows[at].line,
                rows[at].reference_column(),
                ProblemKind::HierarchyCycle,
                "its parents within the file lead back to it (a cycle)",
            ));
            dead[at] = true;
        }
    }

    // In depth order (rows below a cycle last), so a parent's fate is known before its children's.
    let lines: Vec<u32> = rows.iter().map(|r| r.line).collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&r| (depth[r].unwrap_or(usize::MAX), lines[r]));
    let mut levels: Vec<Vec<Planned>> = Vec::new();
    let mut rows: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    for r in order {
        let Some(row) = rows[r].take() else { continue };
        if dead[r] {
            continue;
        }
        // A row whose parent in the file cannot be written cannot be written either (reported at the child).
        if let Some(p) = parent_row[r]
            && (dead[p] || unreadable.contains(&lines[p]) || depth[r].is_none())
        {
            problems.push(LineProblem::new(
                row.line,
                row.reference_column(),
                ProblemKind::Validation,
                format!("its parent (line {}) cannot be imported", lines[p]),
            ));
            dead[r] = true;
            continue;
        }
        let d = depth[r].unwrap_or(0);
        let parent = match parent_row[r] {
            Some(p) => Parent::Id(ids[p]),
            None => std::mem::replace(&mut outside[r], Parent::None),
        };
        if levels.len() <= d {
            levels.resize_with(d + 1, Vec::new);
        }
        levels[d].push(Planned {
            line: row.line,
            id: ids[r],
            parent,
            parent_line: parent_row[r].map(|p| lines[p]),
            reference: row.reference_column(),
            fields: row.fields,
        });
    }
    problems.sort_by_key(|p| p.line);
    Plan { levels, problems }
}

/// The depth of each row within the file (0: no parent in the file); `None` on or below a cycle.
fn depths(parent_row: &[Option<usize>]) -> Vec<Option<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut mark = vec![Mark::New; parent_row.len()];
    let mut depth = vec![None; parent_row.len()];
    for start in 0..parent_row.len() {
        let mut path = Vec::new();
        let mut at = start;
        // Walk up until a row whose depth is known, the top, or a row already on this path (a cycle).
        let mut above = loop {
            match mark[at] {
                Mark::Done => break depth[at],
                Mark::OnPath => break None,
                Mark::New => {}
            }
            mark[at] = Mark::OnPath;
            path.push(at);
            match parent_row[at] {
                Some(p) => at = p,
                None => break Some(usize::MAX),
            }
        };
        for &r in path.iter().rev() {
            let d = match above {
                Some(usize::MAX) => Some(0),
                Some(n) => Some(n + 1),
                None => None,
            };
            // The top row's depth is 0; `usize::MAX` stands for "above the top".
            let d = if parent_row[r].is_none() { Some(0) } else { d };
            depth[r] = d;
            mark[r] = Mark::Done;
            above = d;
        }
    }
    depth
}

/// Whether following parents from `at` comes back to `at`.
fn on_cycle(parent_row: &[Option<usize>], at: usize) -> bool {
    let mut next = parent_row[at];
    for _ in 0..parent_row.len() {
        match next {
            Some(p) if p == at => return true,
            Some(p) => next = parent_row[p],
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u32, key: &str, parent: Option<&str>) -> Row {
        Row {
            line,
            key: Some(key.to_owned()),
            parent_key: parent.map(str::to_owned),
            ..Row::default()
        }
    }

    #[test]
    fn children_before_parents_in_the_file_are_written_after_them() {
        let plan = plan(
            vec![row(2, "c", Some("b")), row(3, "b", Some("a")), row(4, "a", None)],
            &[],
        );
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        let lines: Vec<Vec<u32>> = plan.levels.iter().map(|l| l.iter().map(|p| p.line).collect()).collect();
        assert_eq!(lines, vec![vec![4], vec![3], vec![2]]);
        assert_eq!(plan.levels[1][0].parent, Parent::Id(plan.levels[0][0].id));
        assert_eq!(plan.levels[2][0].parent_line, Some(3));
    }

    #[test]
    fn cycles_missing_keys_and_their_descendants_are_reported() {
        let plan = plan(
            vec![
                row(2, "a", Some("b")),
                row(3, "b", Some("a")),
                row(4, "c", Some("a")),
                row(5, "d", Some("nowhere")),
                row(6, "e", Some("d")),
                row(7, "f", Some("gone")),
                row(8, "f", None),
            ],
            &[],
        );
        let found: Vec<(u32, ProblemKind)> = plan.problems.iter().map(|p| (p.line, p.kind)).collect();
        assert_eq!(
            found,
            vec![
                (2, ProblemKind::HierarchyCycle),
                (3, ProblemKind::HierarchyCycle),
                (4, ProblemKind::Validation),
                (5, ProblemKind::NotFound),
                (6, ProblemKind::Validation),
                (7, ProblemKind::NotFound),
                (8, ProblemKind::Conflict),
            ]
        );
        assert!(plan.levels.iter().all(Vec::is_empty));
    }
}
