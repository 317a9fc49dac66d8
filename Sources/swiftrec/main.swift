import SwiftRecCLI

// Before anything else: `serve` hands Swift's executor to NIO's event loops (see there).
SwiftRecCommand.prepareExecutor()
// The command line lives in SwiftRecCLI so that its parsing and checks can be tested.
await SwiftRecCommand.dispatch()
