//! Document metadata from YAML: Markdown front matter and `<file>.yaml` sidecars share one
//! reader. It is lenient: a key of the wrong type is a warning and is ignored, never fatal.

use crate::dates::DocDate;
use crate::error::Result;
use crate::yaml::{self, Value};

/// Title, date, tags and the rest, as far as the source says.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Metadata {
    /// Document title.
    pub title: Option<String>,
    /// Document date.
    pub date: Option<DocDate>,
    /// Tags, in the order given, duplicates removed.
    pub tags: Vec<String>,
    /// A one- or two-sentence summary.
    pub summary: Option<String>,
    /// A URL slug chosen by the author.
    pub slug: Option<String>,
    /// Other keys, shown on the page as facts, in the order written.
    pub extra: Vec<(String, String)>,
}

impl Metadata {
    /// Reads a YAML mapping. Returns the metadata and a warning for each key it had to ignore;
    /// fails only when the text is not YAML or not a mapping.
    pub fn from_yaml(text: &str) -> Result<(Metadata, Vec<String>)> {
        let mut meta = Metadata::default();
        let mut warnings = Vec::new();
        if text.trim().is_empty() {
            return Ok((meta, warnings));
        }
        let value: Value = yaml::from_str(text)?;
        let map = match value {
            Value::Mapping(map) => map,
            Value::Null => return Ok((meta, warnings)),
            _ => {
                return Err(crate::Error::Yaml(
                    "expected a mapping of keys to values".into(),
                ));
            }
        };
        for (key, value) in map {
            let key = yaml::display(&key);
            match key.as_str() {
                "title" => match scalar(&value) {
                    Some(title) if !title.trim().is_empty() => {
                        meta.title = Some(title.trim().to_owned())
                    }
                    _ => warnings.push("`title` is empty or not text: ignored".into()),
                },
                "date" => match scalar(&value) {
                    Some(text) => match DocDate::parse(&text) {
                        Some(date) => meta.date = Some(date),
                        None => warnings.push(format!("`date` {text:?} is not a date: ignored")),
                    },
                    None => warnings.push("`date` is not a date: ignored".into()),
                },
                "tags" | "tag" | "keywords" => {
                    let tags: Vec<String> = match &value {
                        Value::Sequence(items) => items.iter().filter_map(scalar).collect(),
                        Value::String(s) => s.split(',').map(str::to_owned).collect(),
                        _ => {
                            warnings.push(format!("`{key}` is not a list: ignored"));
                            Vec::new()
                        }
                    };
                    for tag in tags {
                        let tag = tag.trim().to_owned();
                        if !tag.is_empty() && !meta.tags.contains(&tag) {
                            meta.tags.push(tag);
                        }
                    }
                }
                "summary" | "description" => match scalar(&value) {
                    Some(summary) if !summary.trim().is_empty() => {
                        meta.summary = Some(summary.trim().to_owned())
                    }
                    _ => {}
                },
                "slug" => match scalar(&value) {
                    Some(slug) => meta.slug = Some(slug),
                    None => warnings.push("`slug` is not text: ignored".into()),
                },
                _ => {
                    let shown = yaml::display(&value);
                    if !shown.is_empty() {
                        meta.extra.push((key, shown));
                    }
                }
            }
        }
        Ok((meta, warnings))
    }

    /// Takes every value `other` has, keeping ours where it has none.
    pub fn merge_from(&mut self, other: &Metadata) {
        if other.title.is_some() {
            self.title.clone_from(&other.title);
        }
        if other.date.is_some() {
            self.date = other.date;
        }
        for tag in &other.tags {
            if !self.tags.contains(tag) {
                self.tags.push(tag.clone());
            }
        }
        if other.summary.is_some() {
            self.summary.clone_from(&other.summary);
        }
        if other.slug.is_some() {
            self.slug.clone_from(&other.slug);
        }
        for (key, value) in &other.extra {
            match self.extra.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1.clone_from(value),
                None => self.extra.push((key.clone(), value.clone())),
            }
        }
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(tagged) => scalar(&tagged.value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_known_keys_and_keeps_the_rest() {
        let (meta, warnings) = Metadata::from_yaml(
            "title: Memo\ndate: 2020-05-31\ntags: [a, b, a]\nauthor: J. Doe\nclassification: LES\n",
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(meta.title.as_deref(), Some("Memo"));
        assert_eq!(meta.date.unwrap().view().iso, "2020-05-31");
        assert_eq!(meta.tags, ["a", "b"]);
        assert_eq!(
            meta.extra,
            [
                ("author".to_owned(), "J. Doe".to_owned()),
                ("classification".to_owned(), "LES".to_owned())
            ]
        );
    }

    #[test]
    fn bad_values_are_warnings() {
        let (meta, warnings) = Metadata::from_yaml("title: [1, 2]\ndate: someday\n").unwrap();
        assert_eq!(meta.title, None);
        assert_eq!(meta.date, None);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[1].contains("someday"));
    }

    #[test]
    fn broken_yaml_is_an_error() {
        assert!(Metadata::from_yaml("title: \"unclosed\ndate: [").is_err());
    }
}
