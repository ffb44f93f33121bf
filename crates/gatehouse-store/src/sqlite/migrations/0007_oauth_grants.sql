-- The scopes an OAuth grant gave a refresh token, space-separated, so refreshed access tokens
-- carry the same ones. NULL: a token from the Cognito API (aws.cognito.signin.user.admin).
ALTER TABLE refresh_tokens ADD COLUMN scopes TEXT;
