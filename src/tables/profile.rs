//! The table profile: what each table's columns mean, written once for the whole archive
//! (`tables.yaml` at the archive root) and overridable per agency
//! (`content/<agency>/_tables.yaml`). Unknown keys are errors that name the key.
//!
//! ```yaml
//! agency:                      # where an agency index takes its name/description from
//!   table: Company
//!   name: CompanyName
//!   description: Description
//! tables:
//!   Documents:                 # the table's name: file stem or sheet name, any case
//!     name: Documents          # display name
//!     hidden: false
//!     id: DocumentID           # default: the first column
//!     title: DocumentTitle
//!     date: DateCreated
//!     summary: Description
//!     fields: { FileName: attachment, Body: html, Notes: pre, Password: hidden }
//!     drop: [InternalNotes]    # never shown, never indexed
//!     redact: [Phone]          # shown as "[redacted]"
//! joins:
//!   - Documents.DocumentCategoryID -> DocumentCategory.DocumentCategoryID
//!   - join: SARs.CompanyID -> Company.CompanyID
//!     label: Reported to
//!     reverse_label: suspicious activity reports
//!     reverse_label_one: suspicious activity report   # default: made from reverse_label
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::error::{Error, Result};

/// The archive-wide profile file at the archive root.
pub const PROFILE_FILE: &str = "tables.yaml";
/// The per-agency override, inside the agency folder.
pub const AGENCY_PROFILE_FILE: &str = "_tables.yaml";

/// How a field's cells are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Escaped text; line breaks kept.
    Text,
    /// Preformatted text.
    Pre,
    /// Leaked HTML, sanitized like any leaked page.
    Html,
    /// A date, shown in the site's date format.
    Date,
    /// A file name or Windows path naming a file under the agency (`DDF\Bulletin 12.pdf`).
    Attachment,
    /// Like `attachment`, and shown inline when it is an image.
    Image,
    /// Not shown and not indexed (may still be a join key or the row id).
    Hidden,
}

/// One table's settings, as written. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableProfile {
    /// Display name; the table name when absent.
    pub name: Option<String>,
    /// Hidden tables get no listing and no record pages.
    pub hidden: Option<bool>,
    /// The row-id column; the first column when absent.
    pub id: Option<String>,
    /// The column whose cell titles a record.
    pub title: Option<String>,
    /// The column whose cell dates a record.
    pub date: Option<String>,
    /// The column shown as a record's summary.
    pub summary: Option<String>,
    /// Field types by column name.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldType>,
    /// Columns dropped from the output entirely.
    pub drop: Option<Vec<String>>,
    /// Columns whose values are replaced by a redaction marker.
    pub redact: Option<Vec<String>>,
}

/// Where an agency index takes its name and description from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencySource {
    /// The table (its first row is used).
    pub table: String,
    /// Column holding the agency's name.
    pub name: Option<String>,
    /// Column holding the agency's description.
    pub description: Option<String>,
}

/// A join from a column of one table to a column of another, shown in both directions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// Source table name.
    pub from_table: String,
    /// Source column.
    pub from_column: String,
    /// Target table name.
    pub to_table: String,
    /// Target column.
    pub to_column: String,
    /// Label on the source record ("Category"); the target table's display name when absent.
    pub label: Option<String>,
    /// Label on the target record, after the count ("3 documents in this category"); the
    /// source table's display name when absent.
    pub reverse_label: Option<String>,
    /// The same label after a count of one ("1 document in this category"). When absent it
    /// is made from `reverse_label` by [`singular_label`].
    pub reverse_label_one: Option<String>,
}

/// A whole profile file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Where agency indexes take their name and description from.
    pub agency: Option<AgencySource>,
    /// Per-table settings, keyed by table name as written.
    #[serde(default)]
    pub tables: BTreeMap<String, TableProfile>,
    /// Joins between tables of one agency.
    #[serde(default)]
    pub joins: Vec<Join>,
}

impl Profile {
    /// Parses and checks a profile file.
    pub fn parse(text: &str) -> Result<Profile> {
        if text.trim().is_empty() {
            return Ok(Profile::default());
        }
        let profile: Profile = crate::yaml::from_str(text)?;
        for (table, settings) in &profile.tables {
            if table.trim().is_empty() {
                return Err(Error::Config("tables: a table name is empty".into()));
            }
            for (key, column) in [
                ("id", &settings.id),
                ("title", &settings.title),
                ("date", &settings.date),
                ("summary", &settings.summary),
            ] {
                if column.as_deref().is_some_and(|c| c.trim().is_empty()) {
                    return Err(Error::Config(format!(
                        "tables.{table}.{key}: empty column name"
                    )));
                }
            }
        }
        Ok(profile)
    }

    /// This profile with `over` laid on top: per-table keys given in `over` win, field types
    /// are merged by column, joins are added.
    pub fn merged(&self, over: &Profile) -> Profile {
        let mut merged = self.clone();
        if over.agency.is_some() {
            merged.agency = over.agency.clone();
        }
        for (name, table) in &over.tables {
            let key = merged
                .tables
                .keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .cloned()
                .unwrap_or_else(|| name.clone());
            let base = merged.tables.entry(key).or_default();
            macro_rules! take {
                ($($field:ident),*) => {$(
                    if table.$field.is_some() { base.$field = table.$field.clone(); }
                )*};
            }
            take!(name, hidden, id, title, date, summary, drop, redact);
            for (column, kind) in &table.fields {
                base.fields.insert(column.clone(), *kind);
            }
        }
        for join in &over.joins {
            if !merged.joins.contains(join) {
                merged.joins.push(join.clone());
            }
        }
        merged
    }

    /// Settings for the table named `table` (case-insensitive).
    pub fn table(&self, table: &str) -> Option<&TableProfile> {
        self.tables
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(table))
            .map(|(_, settings)| settings)
    }
}

impl Join {
    /// Parses `Table.Column -> Other.Column`.
    pub fn parse(text: &str) -> std::result::Result<Join, String> {
        let (from, to) = text
            .split_once("->")
            .ok_or_else(|| format!("join {text:?}: expected `Table.Column -> Table.Column`"))?;
        let side = |part: &str| -> std::result::Result<(String, String), String> {
            let (table, column) = part
                .trim()
                .split_once('.')
                .ok_or_else(|| format!("join {text:?}: {:?} is not `Table.Column`", part.trim()))?;
            if table.trim().is_empty() || column.trim().is_empty() {
                return Err(format!(
                    "join {text:?}: {:?} is not `Table.Column`",
                    part.trim()
                ));
            }
            Ok((table.trim().to_owned(), column.trim().to_owned()))
        };
        let (from_table, from_column) = side(from)?;
        let (to_table, to_column) = side(to)?;
        Ok(Join {
            from_table,
            from_column,
            to_table,
            to_column,
            label: None,
            reverse_label: None,
            reverse_label_one: None,
        })
    }
}

/// A join written as a mapping.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinSpec {
    join: String,
    label: Option<String>,
    reverse_label: Option<String>,
    reverse_label_one: Option<String>,
}

impl<'de> Deserialize<'de> for Join {
    fn deserialize<D: de::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct JoinVisitor;
        impl<'de> Visitor<'de> for JoinVisitor {
            type Value = Join;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`Table.Column -> Table.Column` or a mapping with `join`, `label`, `reverse_label`, `reverse_label_one`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Join, E> {
                Join::parse(text).map_err(E::custom)
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> std::result::Result<Join, M::Error> {
                let spec = JoinSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let mut join = Join::parse(&spec.join).map_err(de::Error::custom)?;
                join.label = spec.label;
                join.reverse_label = spec.reverse_label;
                join.reverse_label_one = spec.reverse_label_one;
                Ok(join)
            }
        }
        deserializer.deserialize_any(JoinVisitor)
    }
}

/// Words that start the qualifier of a label's noun: in "e-mails in this category" the noun to
/// make singular is the word before "in", not the last one.
const QUALIFIERS: &[&str] = &[
    "in", "of", "from", "for", "with", "to", "about", "by", "on", "at", "that", "which", "who",
];

/// A plural label for a count of one: the noun (the last word, or the word before a
/// qualifier such as "in this category") made singular by the regular English endings.
/// `documents in this category` → `document in this category`; `Suspicious activity reports`
/// → `Suspicious activity report`; `Document categories` → `Document category`. Irregular
/// nouns need the profile's `reverse_label_one`.
pub(crate) fn singular_label(plural: &str) -> String {
    let words: Vec<&str> = plural.split(' ').collect();
    let noun = words
        .iter()
        .position(|w| QUALIFIERS.contains(&w.to_lowercase().as_str()))
        .filter(|&i| i > 0)
        .map_or(words.len() - 1, |i| i - 1);
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == noun {
                singular_word(w)
            } else {
                (*w).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn singular_word(word: &str) -> String {
    let lower = word.to_lowercase();
    if lower.len() > 3 && lower.ends_with("ies") {
        let stem = &word[..word.len() - 3];
        let y = if word.ends_with("IES") { "Y" } else { "y" };
        return format!("{stem}{y}");
    }
    for ending in ["sses", "shes", "ches", "xes", "zes"] {
        if lower.len() > ending.len() && lower.ends_with(ending) {
            return word[..word.len() - 2].to_owned();
        }
    }
    if lower.len() > 1 && lower.ends_with('s') && !lower.ends_with("ss") && !lower.ends_with("us") {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_singular_at_their_noun() {
        assert_eq!(
            singular_label("e-mails in this category"),
            "e-mail in this category"
        );
        assert_eq!(
            singular_label("documents in this category"),
            "document in this category"
        );
        assert_eq!(
            singular_label("Suspicious activity reports"),
            "Suspicious activity report"
        );
        assert_eq!(singular_label("Document categories"), "Document category");
        assert_eq!(singular_label("Partner e-mails"), "Partner e-mail");
        assert_eq!(singular_label("addresses"), "address");
        assert_eq!(singular_label("Status"), "Status");
        assert_eq!(singular_label("Roster"), "Roster");
    }
}
