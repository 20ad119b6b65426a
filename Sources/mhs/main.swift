// The `mhs` tool: the command line over the example classifiers, exactly as a lab's own
// executable is written.
import MHSCommands
import MHSExamples

await MHSCommand.main(classifiers: ExampleClassifiers.all)
