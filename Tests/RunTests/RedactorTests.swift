import MHSSecrets
import Testing

@Suite("Redactor")
struct RedactorTests {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0YXNrOjEifQ.abcdefghijklmnop"

    @Test("URL signatures and credentials, bearer and basic headers, JWTs and registered secrets are masked")
    func masks() {
        let r = Redactor(secrets: ["lab-secret-value"])
        let cases: [(String, String)] = [
            ("GET /f?X-Amz-Date=1&X-Amz-Signature=abc123&X-Amz-Credential=AK%2Fx", "GET /f?X-Amz-Date=1&X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED"),
            ("Authorization: Bearer \(jwt)", "Authorization: Bearer REDACTED"),
            ("Authorization: Basic bGFiOnNlY3JldA==", "Authorization: Basic REDACTED"),
            ("{\"access_token\":\"opaque-token-value\",\"token_type\":\"Bearer\"}", "{\"access_token\":\"REDACTED\",\"token_type\":\"Bearer\"}"),
            ("JWT_TOKEN=\(jwt)", "JWT_TOKEN=REDACTED"),
            ("API_KEY_SECRET=lab-secret-value", "API_KEY_SECRET=REDACTED"),
            ("the secret is lab-secret-value, really", "the secret is REDACTED, really"),
            ("token \(jwt) leaked", "token REDACTED leaked"),
            // Each pattern runs only when its word is there, found whatever its case.
            ("get /f?x-amz-security-token=abc123", "get /f?x-amz-security-token=REDACTED"),
            ("AUTHORIZATION: BEARER opaque", "AUTHORIZATION: BEARER REDACTED"),
            ("{\"SECRET\" : \"opaque-value\"}", "{\"SECRET\" : \"REDACTED\"}"),
            ("ä Refresh_Token=opaque&x=1", "ä Refresh_Token=REDACTED&x=1"),
            ("\(jwt)", "REDACTED"),
        ]
        for (input, expected) in cases { #expect(r.redact(input) == expected) }
    }

    @Test("ordinary words stay: a message about credentials or tokens is not garbled")
    func keepsProse() {
        let r = Redactor(secrets: ["abc"])  // too short to register
        for text in ["cannot obtain a token: credentials refused (401)", "token: the bearer token has expired", "abc def", "X-Amz-Date=20261126T085211Z"] {
            #expect(r.redact(text) == text)
        }
    }
}
