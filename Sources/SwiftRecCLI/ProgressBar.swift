import Foundation
import SwiftRecModels
import Synchronization

/// Draws training progress on stderr: one redrawn bar line on a terminal, epoch lines always.
enum ProgressBar {
    private static let isTerminal = isatty(2) != 0
    private static let state = Mutex<(lastDraw: Double, barShown: Bool)>((0, false))

    static func handle(_ update: TrainingUpdate) {
        switch update {
        case .message(let line):
            let clear = state.withLock { s -> Bool in
                defer { s.barShown = false }
                return s.barShown
            }
            Console.log((clear ? "\r\u{1B}[K" : "") + "  " + line)
        case .epoch:
            break  // Its message line says it for humans.
        case .step(let status):
            guard isTerminal else { return }
            let now = ProcessStats.now()
            let draw = state.withLock { s -> Bool in
                guard status.step == status.steps || now - s.lastDraw >= 0.1 else { return false }
                s.lastDraw = now
                s.barShown = true
                return true
            }
            if draw { FileHandle.standardError.write(Data(("\r\u{1B}[K" + line(status)).utf8)) }
        }
    }

    static func line(_ s: TrainingStatus) -> String {
        let width = 24
        let filled = s.steps > 0 ? width * s.step / s.steps : width
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let eta = s.step > 0 ? s.epochElapsed / Double(s.step) * Double(s.steps - s.step) : 0
        var text = String(
            format: "  %@ epoch %d/%d [%@] %d/%d  loss %.4f  %.0f items/s  ETA %@", s.model, s.epoch, s.epochs, bar,
            s.step, s.steps, s.loss, s.itemsPerSecond, clock(eta))
        if let left = s.budgetLeft { text += "  budget \(clock(max(left, 0))) left" }
        return text
    }

    /// m:ss
    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return String(format: "%d:%02d", total / 60, total % 60)
    }
}

extension Console {
    /// Where models report training progress.
    static let progress: TrainingProgress = { ProgressBar.handle($0) }
}
