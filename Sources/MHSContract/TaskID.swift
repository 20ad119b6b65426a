import FoundationEssentials

/// The two spellings of a task id the platform uses: a plain number (`185714`) and base64
/// of `task:<n>` (`dGFzazoxODU3MTQ=`, what `TASK_ID` holds). The API accepts either.
public enum TaskID {
    /// The task number in either spelling; nil for anything else (or a number below 1).
    public static func number(_ raw: String) -> Int? {
        if let n = Int(raw) { return n > 0 ? n : nil }
        let padded = raw + String(repeating: "=", count: (4 - raw.count % 4) % 4)
        guard let data = Data(base64Encoded: padded), let text = String(data: data, encoding: .utf8), text.hasPrefix("task:"),
            let n = Int(text.dropFirst(5)), n > 0
        else { return nil }
        return n
    }

    /// The base64 spelling of task `number`, as the platform hands it to containers.
    public static func encoded(_ number: Int) -> String {
        Data("task:\(number)".utf8).base64EncodedString()
    }
}
