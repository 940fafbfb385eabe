// Paths (and texts that carry them: toasts, messages) that wrap at their separators, never
// mid-name: a <wbr> after every / and \ gives the browser those break points first; a name too
// long for the line on its own still breaks rather than overflow its cell.
import { makeStyles, mergeClasses, tokens } from '@fluentui/react-components';
import { Fragment, type ReactElement } from 'react';

const useStyles = makeStyles({
  text: { overflowWrap: 'anywhere' },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
});

/** The pieces of a text with a break point after each path separator. */
export function pathPieces(text: string): string[] {
  return text.split(/(?<=[/\\])/);
}

/** Any text that may hold paths; `mono` shows a bare path in the monospace look. */
export function PathText({ text, mono = false, className }: { text: string; mono?: boolean; className?: string }): ReactElement {
  const styles = useStyles();
  return (
    <span className={mergeClasses(styles.text, mono && styles.mono, className)} data-path-text="">
      {pathPieces(text).map((piece, i) => (
        <Fragment key={i}>
          {i > 0 && <wbr />}
          {piece}
        </Fragment>
      ))}
    </span>
  );
}
