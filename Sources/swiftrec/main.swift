import SwiftRecCLI

// The command line lives in SwiftRecCLI so that its parsing and checks can be tested.
await SwiftRecCommand.dispatch()
