require "fileinto";
if true {
  fileinto "Lists" }
