//! An action described for a person: the one structure every front end draws.
//!
//! A connector builds a [`Description`] of its action ([`super::Connector::describe`]);
//! `aios inbox show` prints it with [`Description::to_text`] and the TUI draws the
//! same parts with styles (`tui::view::action`). No front end reads an action's JSON.
//!
//! The parts fit actions beyond today's connectors: an email is a verb and its
//! recipients, header fields (From, To, Subject…), a text body with its content type
//! and attachments with their sizes; a tool call is the tool, its server as a field,
//! its arguments as a JSON body and its annotations as notes.

/// An action for a person: a headline, labelled fields, a body, attachments, notes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description {
    /// What happens, as a verb (`$`, `POST`, `write`)…
    pub verb: String,
    /// …and its object (the command line, the URL, the path).
    pub object: String,
    /// Labelled values, in the order they are shown.
    pub fields: Vec<Field>,
    /// The payload, when there is one: a file's content, a request body.
    pub body: Option<Body>,
    /// Parts that travel with the body (an email's attachments).
    pub attachments: Vec<Attachment>,
    /// Conditions and remarks, shown last ("expect status 201").
    pub notes: Vec<String>,
}

/// One labelled value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: String,
    pub value: String,
    pub style: FieldStyle,
}

/// How a field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldStyle {
    /// A word and its value: `in /srv/app`, `env LANG=C`.
    Word,
    /// A header-like pair: `Content-Type: text/plain`, `To: ada@example.com`.
    Header,
    /// Bookkeeping an operator rarely needs (an idempotency key): drawn dimmed.
    Meta,
}

/// A payload with its content type (`text/plain`, `application/json`, `text/html`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// What the body is called where it is shown: `json`, `body`, `229 bytes`.
    pub label: String,
    pub content_type: String,
    pub text: String,
}

/// A part sent with the body, described (never its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    /// `None`: not known until it is sent (a file an edit added).
    pub size: Option<u64>,
    pub content_type: Option<String>,
}

impl Description {
    pub fn new(verb: impl Into<String>, object: impl Into<String>) -> Description {
        Description {
            verb: verb.into(),
            object: object.into(),
            ..Description::default()
        }
    }

    fn push(mut self, label: impl Into<String>, value: impl Into<String>, s: FieldStyle) -> Self {
        self.fields.push(Field {
            label: label.into(),
            value: value.into(),
            style: s,
        });
        self
    }

    /// Add a `word value` field.
    pub fn word(self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(label, value, FieldStyle::Word)
    }

    /// Add a `Name: value` field.
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(name, value, FieldStyle::Header)
    }

    /// Add a bookkeeping field (drawn dimmed).
    pub fn meta(self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(label, value, FieldStyle::Meta)
    }

    /// Set the body.
    pub fn body(
        mut self,
        label: impl Into<String>,
        content_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        self.body = Some(Body {
            label: label.into(),
            content_type: content_type.into(),
            text: text.into(),
        });
        self
    }

    /// Add an attachment.
    pub fn attachment(mut self, a: Attachment) -> Self {
        self.attachments.push(a);
        self
    }

    /// Add a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The headline: `verb object`.
    pub fn headline(&self) -> String {
        format!("{} {}", self.verb, self.object)
    }

    /// Plain text (what `aios inbox show` prints, indented): the headline, then each
    /// part on its own line indented by two spaces, the body's lines behind `│ `.
    pub fn to_text(&self) -> String {
        let mut out = self.headline();
        for f in &self.fields {
            match f.style {
                FieldStyle::Word => out.push_str(&format!("\n  {} {}", f.label, f.value)),
                FieldStyle::Header | FieldStyle::Meta => {
                    out.push_str(&format!("\n  {}: {}", f.label, f.value))
                }
            }
        }
        if let Some(b) = &self.body {
            out.push_str(&format!("\n  {}:", b.label));
            for line in b.text.lines() {
                out.push_str("\n  │ ");
                out.push_str(line);
            }
        }
        for a in &self.attachments {
            out.push_str(&format!("\n  {}", a.line()));
        }
        for n in &self.notes {
            out.push_str(&format!("\n  {n}"));
        }
        out
    }
}

impl Attachment {
    /// `attachment NAME (SIZE bytes, TYPE)`.
    pub fn line(&self) -> String {
        let size = match self.size {
            Some(n) => crate::text::count(n, "byte"),
            None => "size read when sent".to_string(),
        };
        match &self.content_type {
            Some(t) => format!("attachment {} ({size}, {t})", self.name),
            None => format!("attachment {} ({size})", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_puts_each_part_on_its_own_line() {
        let d = Description::new("POST", "https://example.com/x")
            .header("query", "a=1")
            .header("Content-Type", "application/json")
            .meta("Idempotency-Key", "k1")
            .body("json", "application/json", "{\n  \"a\": 1\n}")
            .note("expect status 201");
        assert_eq!(
            d.to_text(),
            "POST https://example.com/x\n  query: a=1\n  Content-Type: application/json\n  \
             Idempotency-Key: k1\n  json:\n  │ {\n  │   \"a\": 1\n  │ }\n  expect status 201"
        );
    }

    /// The parts fit what later connectors act with: an email (headers, a text
    /// body, attachments) and a tool call (server, arguments, annotations).
    #[test]
    fn an_email_and_a_tool_call_describe_well() {
        let email = Description::new("email", "Office hours are open")
            .header("From", "ada@example.com")
            .header("To", "bob@example.com, eve@example.com")
            .header("Subject", "Office hours are open")
            .meta("Message-ID", "<aios-u1-send-1@example.com>")
            .body("text", "text/plain", "Hi,\n\nBook a slot.")
            .attachment(Attachment {
                name: "slots.pdf".into(),
                size: Some(20480),
                content_type: Some("application/pdf".into()),
            });
        assert_eq!(
            email.to_text(),
            "email Office hours are open\n  From: ada@example.com\n  To: bob@example.com, eve@example.com\n  \
             Subject: Office hours are open\n  Message-ID: <aios-u1-send-1@example.com>\n  text:\n  │ Hi,\n  │ \n  \
             │ Book a slot.\n  attachment slots.pdf (20480 bytes, application/pdf)"
        );
        let call = Description::new("call", "create_issue")
            .word("on", "github")
            .body("arguments", "application/json", "{\"title\": \"Bug\"}")
            .note("annotations: destructive, not idempotent");
        assert_eq!(
            call.to_text(),
            "call create_issue\n  on github\n  arguments:\n  │ {\"title\": \"Bug\"}\n  annotations: destructive, not idempotent"
        );
    }
}
