-- 0008: how a webhook is checked and read. `format` names the signature scheme its
-- sender uses (`aios`, `github`, `stripe`); `payload`, when set, is the input that
-- receives the whole JSON body (otherwise each top-level field is one input);
-- `tolerance_s` is how old a `stripe` signature's timestamp may be. The secret is
-- still NOT here: it stays in hooks/NAME.secret (0600).

ALTER TABLE hooks ADD COLUMN format TEXT NOT NULL DEFAULT 'aios';
ALTER TABLE hooks ADD COLUMN payload TEXT;
ALTER TABLE hooks ADD COLUMN tolerance_s INTEGER NOT NULL DEFAULT 300;
