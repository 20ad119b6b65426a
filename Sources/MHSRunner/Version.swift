/// Which mhs this is.
public enum MHSVersion {
    /// The release, as a lab package's `from:` names it.
    public static let number = "0.1.0"

    /// `mhs 0.1.0`, with the commit when the build recorded one (the image sets
    /// `MHS_COMMIT` from its build argument).
    public static func description(commit: String?) -> String {
        guard let commit = commit?.trimmingCharacters(in: .whitespaces), !commit.isEmpty else { return "mhs \(number)" }
        return "mhs \(number) (commit \(commit.prefix(12)))"
    }
}
