//! Saving a fetched message beneath the data directory, through the file sandbox:
//! `mail/<watch>/<account>/<folder>/<uidvalidity>/<uid>/message.eml` (the message as
//! the server sent it) and `attachments/<name>` next to it. Every name in the path is
//! made safe first ([`super::mime::sanitize_name`]), and every file is written
//! beneath the `mail` folder's handle ([`Root`]): a name cannot lead out of it.
//!
//! The path depends only on where the message is, so two ticks that fetch the same
//! message write the same files (each write atomic): nothing is duplicated, and a
//! tick killed after saving and before recording leaves files the next one
//! rewrites.

use std::path::{Path, PathBuf};

use super::mime::{Attachment, sanitize_name};
use crate::connectors::sandbox::{RelPath, Root};
use crate::error::{Error, Result};
use crate::journal::MailPlace;

/// A saved attachment, as the run's input describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedAttachment {
    pub name: String,
    pub size: u64,
    pub path: PathBuf,
    pub content_type: String,
}

/// Where a message was saved.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The message as fetched (`message.eml`).
    pub raw: PathBuf,
    pub attachments: Vec<SavedAttachment>,
}

/// A path component from text that may be anything (a folder name, a workflow name).
fn component(s: &str) -> String {
    let c = sanitize_name(s);
    if c.is_empty() { "_".to_string() } else { c }
}

/// The folder of one message, relative to the `mail` folder.
pub fn message_dir(watch: &str, place: &MailPlace) -> String {
    format!(
        "{}/{}/{}/{}/{}",
        component(watch),
        component(&place.account),
        component(&place.folder),
        place.uidvalidity,
        place.uid
    )
}

fn io(e: impl std::fmt::Display) -> Error {
    Error::storage(format!("cannot save the message: {e}"))
        .with_hint("check that the data directory is writable and the disk not full")
}

/// Save `raw` and its `attachments` beneath `mail_dir`.
pub fn save(
    mail_dir: &Path,
    watch: &str,
    place: &MailPlace,
    raw: &[u8],
    attachments: &[Attachment],
) -> Result<Saved> {
    let root = Root::create(mail_dir).map_err(io)?;
    let dir = message_dir(watch, place);
    let write = |rel: &str, bytes: &[u8]| -> Result<PathBuf> {
        let rel = RelPath::new(rel).map_err(io)?;
        root.create_parents(&rel).map_err(io)?;
        root.write_atomic(&rel, bytes).map_err(io)?;
        Ok(mail_dir.join(rel.as_path()))
    };
    let raw_path = write(&format!("{dir}/message.eml"), raw)?;
    let mut saved = Vec::with_capacity(attachments.len());
    for a in attachments {
        let path = write(&format!("{dir}/attachments/{}", a.name), &a.bytes)?;
        saved.push(SavedAttachment {
            name: a.name.clone(),
            size: a.bytes.len() as u64,
            path,
            content_type: a.content_type.clone(),
        });
    }
    Ok(Saved {
        raw: raw_path,
        attachments: saved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_beneath_the_mail_folder_with_safe_names() {
        let dir = tempfile::tempdir().unwrap();
        let mail = dir.path().join("mail");
        let place = MailPlace {
            account: "default".into(),
            folder: "../INBOX".into(),
            uidvalidity: 7,
            uid: 3,
        };
        let a = Attachment {
            name: "report.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF".to_vec(),
        };
        let s = save(&mail, "../../support", &place, b"raw", &[a]).unwrap();
        assert_eq!(s.raw, mail.join("support/default/INBOX/7/3/message.eml"));
        assert_eq!(std::fs::read(&s.raw).unwrap(), b"raw");
        let at = &s.attachments[0];
        assert_eq!(
            at.path,
            mail.join("support/default/INBOX/7/3/attachments/report.pdf")
        );
        assert_eq!(
            (at.size, std::fs::read(&at.path).unwrap()),
            (4, b"%PDF".to_vec())
        );
        // Saved twice (two ticks fetched it): the same files, nothing added.
        save(&mail, "../../support", &place, b"raw", &[]).unwrap();
        assert_eq!(std::fs::read(&s.raw).unwrap(), b"raw");
    }

    #[test]
    fn a_symlink_out_of_the_mail_folder_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let mail = dir.path().join("mail");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&mail).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, mail.join("w")).unwrap();
        let place = MailPlace {
            account: "a".into(),
            folder: "INBOX".into(),
            uidvalidity: 1,
            uid: 1,
        };
        let e = save(&mail, "w", &place, b"raw", &[]).unwrap_err();
        assert!(
            e.message.contains("escapes the root folder"),
            "{}",
            e.message
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}
