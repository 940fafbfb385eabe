// Paths (and texts that carry them: toasts, messages) that wrap at their separators, never
// mid-name: each piece up to and including a / or \ is one inline block, so a line breaks between
// pieces first (a hyphen inside a name is no break point); a piece wider than the whole line on its
// own still wraps inside itself rather than overflow its cell.
import { makeStyles, mergeClasses, tokens } from '@fluentui/react-components';
import { Fragment, type ReactElement } from 'react';

const useStyles = makeStyles({
  text: { overflowWrap: 'break-word' },
  piece: { display: 'inline-block', maxWidth: '100%' },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
});

/** The pieces of a text, each ending at a path separator (the last one at the end). */
export function pathPieces(text: string): string[] {
  return text.split(/(?<=[/\\])/);
}

/** Any text that may hold paths; words wrap as usual, paths only at their separators. `mono`: a bare path's look. */
export function PathText({ text, mono = false, className }: { text: string; mono?: boolean; className?: string }): ReactElement {
  const styles = useStyles();
  return (
    <span className={mergeClasses(styles.text, mono && styles.mono, className)} data-path-text="">
      {text.split(/(\s+)/).map((token, t) =>
        /[/\\]./.test(token) ? (
          <Fragment key={t}>
            {pathPieces(token).map((piece, i) => (
              <span key={i} className={styles.piece}>
                {piece}
              </span>
            ))}
          </Fragment>
        ) : (
          token
        ),
      )}
    </span>
  );
}
