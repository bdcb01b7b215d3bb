//! Flyway's callback events: SQL files named after an event (`beforeMigrate.sql`,
//! `afterEachMigrate__grants.sql`) run when that event happens.
//!
//! Every Flyway event name is recognised, so such files are never mistaken for migrations; the
//! engine runs the events it implements (see [`Event::is_supported`]) and reports the others.

use serde::Serialize;

macro_rules! events {
    ($($variant:ident => $id:literal, $supported:literal;)*) => {
        /// A Flyway callback event.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub enum Event {
            $(
                #[doc = concat!("`", $id, "`")]
                $variant,
            )*
        }

        impl Event {
            /// Every event, in declaration order.
            pub const ALL: &'static [Event] = &[$(Event::$variant),*];

            /// The file-name prefix of this event (`beforeMigrate`).
            pub fn id(self) -> &'static str {
                match self { $(Event::$variant => $id,)* }
            }

            /// Whether pccdb runs callbacks for this event (undo and connect events are Flyway Teams
            /// features; schema-creation events are not implemented).
            pub fn is_supported(self) -> bool {
                match self { $(Event::$variant => $supported,)* }
            }
        }
    };
}

events! {
    BeforeConnect => "beforeConnect", false;
    AfterConnect => "afterConnect", false;
    BeforeMigrate => "beforeMigrate", true;
    BeforeRepeatables => "beforeRepeatables", true;
    BeforeEachMigrate => "beforeEachMigrate", true;
    BeforeEachMigrateStatement => "beforeEachMigrateStatement", true;
    AfterEachMigrateStatement => "afterEachMigrateStatement", true;
    AfterEachMigrateStatementError => "afterEachMigrateStatementError", false;
    AfterEachMigrate => "afterEachMigrate", true;
    AfterEachMigrateError => "afterEachMigrateError", true;
    AfterMigrate => "afterMigrate", true;
    AfterMigrateApplied => "afterMigrateApplied", true;
    AfterVersioned => "afterVersioned", true;
    AfterMigrateError => "afterMigrateError", true;
    BeforeUndo => "beforeUndo", false;
    BeforeEachUndo => "beforeEachUndo", false;
    BeforeEachUndoStatement => "beforeEachUndoStatement", false;
    AfterEachUndoStatement => "afterEachUndoStatement", false;
    AfterEachUndoStatementError => "afterEachUndoStatementError", false;
    AfterEachUndo => "afterEachUndo", false;
    AfterEachUndoError => "afterEachUndoError", false;
    AfterUndo => "afterUndo", false;
    AfterUndoError => "afterUndoError", false;
    BeforeClean => "beforeClean", true;
    AfterClean => "afterClean", true;
    AfterCleanError => "afterCleanError", true;
    BeforeInfo => "beforeInfo", true;
    AfterInfo => "afterInfo", true;
    AfterInfoError => "afterInfoError", true;
    BeforeValidate => "beforeValidate", true;
    AfterValidate => "afterValidate", true;
    AfterValidateError => "afterValidateError", true;
    BeforeBaseline => "beforeBaseline", true;
    AfterBaseline => "afterBaseline", true;
    AfterBaselineError => "afterBaselineError", true;
    BeforeRepair => "beforeRepair", true;
    AfterRepair => "afterRepair", true;
    AfterRepairError => "afterRepairError", true;
    CreateSchema => "createSchema", false;
    BeforeCreateSchema => "beforeCreateSchema", false;
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_unique() {
        let mut ids: Vec<_> = Event::ALL.iter().map(|e| e.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Event::ALL.len());
    }

    #[test]
    fn undo_events_are_recognised_but_not_run() {
        assert!(!Event::BeforeUndo.is_supported());
        assert!(Event::BeforeMigrate.is_supported());
        assert_eq!(Event::AfterEachMigrate.id(), "afterEachMigrate");
    }
}
