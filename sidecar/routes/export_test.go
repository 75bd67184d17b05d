package routes

// FoldRune is exported for the test that checks it against every rune.
var FoldRune = foldRune
