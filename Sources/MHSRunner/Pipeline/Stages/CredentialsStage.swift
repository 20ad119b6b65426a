import MHSTransport

/// Exchanges an API key for a bearer token (a JWT is used as it is), before anything is
/// downloaded, so a wrong key does not cost a whole run. Fails with exit 2.
package struct CredentialsStage: Sendable {
    package var api: TechcyteAPI
    package var credentials: Credentials
    package var console: Console

    package init(api: TechcyteAPI, credentials: Credentials, console: Console) {
        self.api = api
        self.credentials = credentials
        self.console = console
    }

    /// The bearer token for the task's API calls (registered with the console as a secret).
    package func run() async throws -> String {
        do {
            let token = try await api.bearer(for: credentials)
            console.hide([token])
            if case .apiKey = credentials { console.say("API key exchanged for a token at \(api.baseURL)/token") }
            return token
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw StageFailure(.configuration, "cannot obtain a token: \(error)")
        }
    }
}
