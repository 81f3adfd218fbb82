#![doc = include_str!("../README.md")]
//!
//! ## The mapping
//!
//! `course-mapping`: provider catalog courses → LMS course records, and the
//! catalog diff. Pure: plain data in, plain data out.
//!
//! - [`opensesame::map`] follows seed 000's table (id → externalId, title →
//!   name, descriptionHtml → description, imageUrl → image, duration →
//!   courseDuration, publisherName → author, languages → lang, quickLaunchUrl →
//!   launchUrl, dateUpdated → modifiedAt, categories → subjects, active = false →
//!   archived, type → contentType); [`udemy::map`] maps Udemy Business
//!   course-list items. A course without its mandatory fields is rejected with
//!   a reason; formats we do not know are tolerated and reported as warnings.
//! - [`diff`] compares the stored catalog with a fetched one page by page,
//!   and decides what a run may archive at its end ([`archive_decision`]).

#![warn(missing_docs)]

pub mod diff;
mod normalize;
pub mod opensesame;
pub mod udemy;

pub use diff::{
    ArchiveDecision, ArchivePolicy, ArchiveRefusal, Change, Known, archive_decision, classify,
    departed,
};
pub use normalize::{duration_minutes, language_tag, sanitize_html, subjects_from_paths};

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// An LMS course record, as the LMS receives it (360Learning's field names).
///
/// Made by [`opensesame::map`] and [`udemy::map`], which uphold the mapping's
/// rules: a non-empty id and name, sanitized HTML, http(s) URLs, valid
/// language tags, a content type from [`CONTENT_TYPES`]. The fields are public
/// for reading; a value built or edited by hand is not checked by anything
/// here, and the caller must uphold those rules itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappedCourse {
    /// The provider's course id (trimmed, never empty): the key of the record.
    pub external_id: String,
    /// The title (trimmed, never empty).
    pub name: String,
    /// Sanitized HTML.
    pub description: Option<String>,
    /// The image URL (http or https).
    pub image: Option<String>,
    /// Minutes.
    pub course_duration: Option<i64>,
    /// The publisher or instructor.
    pub author: Option<String>,
    /// The first valid language tag (the LMS's default language).
    pub lang: Option<String>,
    /// Every valid language tag.
    pub languages: Vec<String>,
    /// The provider's launch URL (http or https).
    pub launch_url: Option<String>,
    /// When the provider last changed the course, as the provider wrote it.
    pub modified_at: Option<String>,
    /// The provider's categories as subjects (each path's segments).
    pub subjects: Vec<String>,
    /// The provider lists the course as inactive.
    pub archived: bool,
    /// One of [`CONTENT_TYPES`], when the provider's type has one.
    pub content_type: Option<String>,
    /// The ids statements may use for this course (provider id, xAPI activity id).
    pub activity_ids: Vec<String>,
    /// What was tolerated: `field: what`.
    pub warnings: Vec<String>,
}

/// A course the provider sent that cannot become an LMS course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("course {}: {reason}", id.as_deref().unwrap_or("(no id)"))]
pub struct Rejected {
    /// The provider's id, when there is one.
    pub id: Option<String>,
    /// Why, as `field: what` (e.g. `title: missing (name is mandatory)`).
    pub reason: String,
}

impl MappedCourse {
    /// One short hash per mapped field (not `warnings`, `activity_ids` or
    /// `archived`): what the diff compares to name the fields that changed.
    pub fn field_hashes(&self) -> BTreeMap<String, String> {
        let v = serde_json::to_value(self).unwrap_or_default();
        let mut out = BTreeMap::new();
        if let serde_json::Value::Object(m) = v {
            for (k, v) in m {
                if matches!(k.as_str(), "warnings" | "activityIds" | "archived") {
                    continue;
                }
                let digest = Sha256::digest(v.to_string().as_bytes());
                out.insert(k, hex::encode(&digest[..8]));
            }
        }
        out
    }

    /// A hash of every mapped field together (and the activity ids).
    pub fn content_hash(&self) -> String {
        self.content_hash_from(&self.field_hashes())
    }

    /// [`MappedCourse::content_hash`] from already computed field hashes.
    pub fn content_hash_from(&self, field_hashes: &BTreeMap<String, String>) -> String {
        let mut h = Sha256::new();
        for (k, v) in field_hashes {
            h.update(k.as_bytes());
            h.update(v.as_bytes());
        }
        for id in &self.activity_ids {
            h.update(id.as_bytes());
        }
        hex::encode(&h.finalize()[..16])
    }
}

/// Bumped whenever a mapping rule changes, so that every course is mapped again.
pub const MAPPING_VERSION: &str = "1";

/// A hash of a provider's raw course object and the mapping version: equal
/// hashes mean an unchanged course, without mapping it again.
pub fn source_hash(item: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(MAPPING_VERSION.as_bytes());
    h.update(item.to_string().as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The LMS's content types (360Learning API v2).
pub const CONTENT_TYPES: &[&str] = &[
    "article",
    "assessment",
    "audiobook",
    "book",
    "certificate",
    "channel",
    "course",
    "curriculum",
    "interactive",
    "journey",
    "labs",
    "linkedContent",
    "mooc",
    "podcast",
    "program",
    "roleplay",
    "specialization",
    "topvoice",
    "video",
];

/// A provider's content type in the LMS's vocabulary, when it has one.
pub fn content_type(raw: &str) -> Option<&'static str> {
    let r = raw.trim().to_ascii_lowercase();
    let r = match r.as_str() {
        "elearning" | "e-learning" | "scorm" | "online course" => "course",
        "assessment" | "quiz" | "test" => "assessment",
        "video" | "videos" => "video",
        "audio" | "podcast" => "podcast",
        "article" | "document" | "pdf" => "article",
        "book" | "ebook" => "book",
        "audiobook" => "audiobook",
        other => other,
    };
    CONTENT_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(r))
        .copied()
}
